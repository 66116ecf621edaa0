"""The wire between the grader and a student's kernel: framing and plain-data encoding.

Hidden checks run in the grader, outside the student's kernel; the kernel only evaluates
the student's functions on inputs the grader sends. Everything that crosses is plain
data: a JSON header, and the raw bytes of numeric arrays after it (the header names each
array's dtype and shape). Nothing is ever unpickled, so a hostile kernel can send wrong
numbers but never code.

A frame: 4-byte header length, the JSON header, 4-byte buffer count, 8 bytes per buffer
length, the buffers.

This module runs on both sides, so it imports only numpy and the standard library.
"""
import functools
import itertools
import json
import math
import socket
import struct
import time

import numpy as np

MAX_MESSAGE_BYTES = 64 * 2**20
MAX_BUFFERS = 10_000
MAX_DIMS = 32  # of an array (numpy allows 64; the course's arrays have at most 2)
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


class _Buffer:
    """The bytes of an array, sent after the header (see send)."""

    __slots__ = ("data",)

    def __init__(self, data):
        self.data = data


def send(sock, message):
    """Send one message (a dict of what encode() makes) as a frame of a header and buffers."""
    buffers = []

    def buffer_index(value):
        if isinstance(value, _Buffer):
            buffers.append(value.data)
            return {"__buffer__": len(buffers) - 1}
        raise TypeError(f"cannot send a {type(value).__name__}")

    header = json.dumps(message, allow_nan=True, default=buffer_index).encode()
    total = len(header) + sum(len(b) for b in buffers)
    if total > MAX_MESSAGE_BYTES:
        raise WireError(f"message of {total} bytes exceeds {MAX_MESSAGE_BYTES}")
    table = struct.pack(f"!I{len(buffers)}Q", len(buffers), *(len(b) for b in buffers))
    sock.sendall(b"".join([struct.pack("!I", len(header)), header, table, *buffers]))


def receive(sock):
    """Receive one message; raises EOFError when the peer closed the connection.

    The socket's timeout (if any) bounds the whole message, not each read: a peer sending a
    byte at a time cannot stretch it.
    """
    timeout = sock.gettimeout()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        (length,) = struct.unpack("!I", _read_exactly(sock, 4, deadline))
        if length > MAX_MESSAGE_BYTES:
            raise WireError(f"announced message of {length} bytes exceeds {MAX_MESSAGE_BYTES}")
        header_and_count = _read_exactly(sock, length + 4, deadline)
        (count,) = struct.unpack("!I", header_and_count[length:])
        if count > MAX_BUFFERS:
            raise WireError(f"{count} buffers announced")
        sizes = struct.unpack(f"!{count}Q", _read_exactly(sock, 8 * count, deadline)) if count else ()
        if length + sum(sizes) > MAX_MESSAGE_BYTES:
            raise WireError(f"announced message of {length + sum(sizes)} bytes exceeds {MAX_MESSAGE_BYTES}")
        data = _read_exactly(sock, sum(sizes), deadline)
    finally:
        sock.settimeout(timeout)
    ends = list(itertools.accumulate(sizes))
    buffers = [data[end - size:end] for end, size in zip(ends, sizes)]
    message = json.loads(header_and_count[:length], object_hook=functools.partial(_buffer_or_dict, buffers, set()))
    if not isinstance(message, dict):
        raise WireError("a message must be a JSON object")
    return message


def _buffer_or_dict(buffers, used, item):
    """A JSON object as it is decoded: {"__buffer__": i} becomes the bytes of buffer i, each buffer
    at most once (a buffer referred to many times would decode to as many copies)."""
    if len(item) == 1 and "__buffer__" in item:
        index = item["__buffer__"]
        if type(index) is not int or not 0 <= index < len(buffers) or index in used:
            raise WireError("a message refers to a buffer it does not have")
        used.add(index)
        return buffers[index]
    return item


def _read_exactly(sock, n, deadline=None):
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("timed out")
            sock.settimeout(left)
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
        data = np.asarray(value)  # a subclass's own data (a masked array's, not its filled copy)
        return {"__array__": _Buffer(data.tobytes()), "dtype": data.dtype.str, "shape": list(data.shape)}
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
    if type(data) is not dict:
        if data is None or isinstance(data, (bool, int, float, str)):
            return data
        raise WireError(f"{type(data).__name__} is not part of the protocol here")
    if "__array__" in data:
        dtype = np.dtype(data["dtype"])
        if dtype.kind not in _NUMERIC_KINDS:
            raise WireError(f"forbidden dtype {dtype}")
        shape = data["shape"]
        if type(shape) is not list or len(shape) > MAX_DIMS or \
                any(type(n) is not int or not 0 <= n <= MAX_MESSAGE_BYTES for n in shape):
            raise WireError(f"an array's shape must be a list of at most {MAX_DIMS} sizes")
        shape = tuple(shape)
        raw = data["__array__"]
        raw = raw.data if isinstance(raw, _Buffer) else raw  # encoded here, never sent
        if not isinstance(raw, bytes):
            raise WireError("an array without its bytes")
        count = math.prod(shape)
        if len(raw) != count * dtype.itemsize:
            raise WireError("array bytes do not match its shape")
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__scalar__" in data:
        return decode(data["__scalar__"])[()]
    if "__seq__" in data:
        if type(data["__seq__"]) is not list:
            raise WireError("a sequence must be a list")
        items = [decode(v, resolve) for v in data["__seq__"]]
        return tuple(items) if data.get("tuple") else items
    if "__dict__" in data:
        if type(data["__dict__"]) is not dict:
            raise WireError("a dict must be an object")
        return {str(k): decode(v, resolve) for k, v in data["__dict__"].items()}
    if "__handle__" in data:
        if resolve is None:
            raise WireError("unexpected handle")
        return resolve(int(data["__handle__"]), str(data.get("type", "object")))
    raise WireError("unknown encoding")
