"""The wire between the grader and a student's kernel: framing and plain-data encoding.

Hidden checks run in the grader, outside the student's kernel; the kernel only evaluates
the student's functions on inputs the grader sends. Everything that crosses is plain
data: JSON with numeric arrays as base64 bytes. Nothing is ever unpickled, so a hostile
kernel can send wrong numbers but never code.

This module runs on both sides, so it imports only numpy and the standard library.
"""
import base64
import json
import struct

import numpy as np

MAX_MESSAGE_BYTES = 64 * 2**20
_NUMERIC_KINDS = "biuf"


class WireError(Exception):
    """A message that breaks the protocol (too large, malformed, or a forbidden type)."""


class Handle:
    """An opaque value that stays in the kernel (e.g. a student's cache); referred to by id."""

    __slots__ = ("id", "type_name", "__weakref__")

    def __init__(self, handle_id, type_name):
        self.id = handle_id
        self.type_name = type_name

    def __repr__(self):
        return f"<{self.type_name} kept in the student's kernel>"


def send(sock, message):
    """Send one message (a JSON-able dict) as a length-prefixed frame."""
    payload = json.dumps(message, allow_nan=True).encode()
    if len(payload) > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {len(payload)} bytes exceeds {MAX_MESSAGE_BYTES}")
    sock.sendall(struct.pack("!I", len(payload)) + payload)


def receive(sock):
    """Receive one message; raises EOFError when the peer closed the connection."""
    (length,) = struct.unpack("!I", _read_exactly(sock, 4))
    if length > MAX_MESSAGE_BYTES:
        raise WireError(f"announced message of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
    message = json.loads(_read_exactly(sock, length))
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


def _read_exactly(sock, n):
    chunks, remaining = [], n
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def encode(value, keep=None):
    """Encode a value as plain JSON data.

    Inputs:
    - value: arrays of numeric dtype, numpy/Python scalars, str, None, and lists, tuples
      and str-keyed dicts of these. Handles encode as references.
    - keep: optional callable(value) -> Handle, used for anything else (the kernel keeps
      the object and sends a reference). Without it, other types raise WireError.
    """
    if isinstance(value, Handle):
        return {"__handle__": value.id, "type": value.type_name}
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMERIC_KINDS:
        data = np.array(value, order="C", copy=True)  # keeps 0-d arrays 0-d (ascontiguousarray does not)
        return {
            "__array__": base64.b64encode(data.tobytes()).decode(),
            "dtype": data.dtype.str,
            "shape": list(data.shape),
        }
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return {"__scalar__": encode(np.asarray(value))}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return {"__seq__": [encode(v, keep) for v in value], "tuple": isinstance(value, tuple)}
    if isinstance(value, dict) and all(isinstance(k, str) for k in value):
        return {"__dict__": {k: encode(v, keep) for k, v in value.items()}}
    if keep is not None:
        return encode(keep(value))
    raise WireError(f"cannot send a value of type {type(value).__name__}")


def decode(data, resolve=None):
    """Decode what encode() produced.

    Inputs:
    - data: the JSON data.
    - resolve: optional callable(handle_id, type_name) -> object for handle references
      (the kernel looks up its own objects; the grader makes Handle placeholders).
    """
    if isinstance(data, (bool, int, float, str)) or data is None:
        return data
    if isinstance(data, list):
        raise WireError("bare lists are not part of the protocol")
    if "__array__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _NUMERIC_KINDS:
            raise WireError(f"forbidden dtype {dtype}")
        shape = tuple(int(n) for n in data["shape"])
        raw = base64.b64decode(data["__array__"], validate=True)
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if len(raw) != count * dtype.itemsize:
            raise WireError("array bytes do not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__scalar__" in data:
        return decode(data["__scalar__"])[()]
    if "__seq__" in data:
        items = [decode(v, resolve) for v in data["__seq__"]]
        return tuple(items) if data.get("tuple") else items
    if "__dict__" in data:
        return {str(k): decode(v, resolve) for k, v in data["__dict__"].items()}
    if "__handle__" in data:
        if resolve is None:
            raise WireError("unexpected handle")
        return resolve(int(data["__handle__"]), str(data.get("type", "object")))
    raise WireError("unknown encoding")
