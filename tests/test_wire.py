"""The wire carries plain numeric data both ways, exactly, and refuses anything else."""
import socket

import numpy as np
import pytest

from autograder import wire


@pytest.mark.parametrize("value", [
    np.arange(12.0).reshape(3, 4), np.array(2.5), np.zeros((0, 3)), np.arange(5, dtype=np.int32),
    np.array([True, False]), np.float32(1.5), np.asfortranarray(np.arange(6.0).reshape(2, 3)),
])
def test_arrays_and_scalars_round_trip_with_shape_and_dtype(value):
    decoded = wire.decode(wire.encode(value))
    assert type(decoded) is type(value) or isinstance(value, np.generic)
    assert np.asarray(decoded).shape == np.asarray(value).shape
    assert np.asarray(decoded).dtype == np.asarray(value).dtype
    assert np.array_equal(decoded, value)


def test_containers_round_trip():
    value = {"mode": "train", "eps": 1e-3, "stats": (np.ones(2), [1, None, "a"]), "flag": True}
    decoded = wire.decode(wire.encode(value))
    assert decoded["mode"] == "train" and decoded["eps"] == 1e-3 and decoded["flag"] is True
    assert isinstance(decoded["stats"], tuple) and isinstance(decoded["stats"][1], list)
    assert np.array_equal(decoded["stats"][0], np.ones(2))


def test_objects_are_refused_or_kept_as_handles():
    with pytest.raises(wire.WireError):
        wire.encode(object())
    with pytest.raises(wire.WireError):
        wire.encode(np.array([object()]))
    kept = []
    encoded = wire.encode((np.ones(1), object()), keep=lambda v: kept.append(v) or wire.Handle(7, "object"))
    decoded = wire.decode(encoded, resolve=lambda i, t: ("handle", i, t))
    assert decoded[1] == ("handle", 7, "object") and len(kept) == 1


@pytest.mark.parametrize("data", [
    {"__array__": "AAAA", "dtype": "|O", "shape": [1]},
    {"__array__": "AAAAAAAA8D8=", "dtype": "<f8", "shape": [2]},
    {"__handle__": 3},
    [1, 2],
    {"unknown": 1},
])
def test_malformed_or_dangerous_data_is_rejected(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_frames_cross_a_socket_and_oversized_frames_are_refused():
    left, right = socket.socketpair()
    with left, right:
        wire.send(left, {"op": "call", "args": [wire.encode(np.eye(3))]})
        message = wire.receive(right)
        assert np.array_equal(wire.decode(message["args"][0]), np.eye(3))
        right.sendall((wire.MAX_MESSAGE_BYTES + 1).to_bytes(4, "big"))
        with pytest.raises(wire.WireError):
            wire.receive(left)
        right.close()
        with pytest.raises(EOFError):
            wire.receive(left)


def _frame(payload):
    return len(payload).to_bytes(4, "big") + payload


GARBAGE = [
    _frame(b'{"op": "hello", "part": ["batchnorm_forward"]}'),
    _frame(b'{"op": "hello", "part": {"a": 1}}'),
    _frame(b'{"op": "hello", "part": "\\udc80"}'),
    _frame(b'{"op": "hello", "part": 5}'),
    _frame(b"[1, 2, 3]"),
    _frame(b"[" * 100_000 + b"]" * 100_000),
    (2**31).to_bytes(4, "big") + b"x",
    b"\xff" * 64,
    b"",
]


def test_malformed_requests_are_flagged_and_never_stop_the_check_server(tmp_path):
    """Whatever the kernel sends, the server answers the next real request; each oddity is a flag."""
    from autograder import course
    from autograder.remote import CheckServer

    assignment = course.assignment()
    path = tmp_path / "check.sock"
    with CheckServer(path, assignment, {p: 1 for p in assignment.auto_parts}, call_timeout=5) as server:
        for frame in GARBAGE:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(10)
                sock.connect(str(path))
                sock.sendall(frame)
                sock.shutdown(socket.SHUT_WR)
                try:
                    sock.recv(1 << 16)
                except OSError:
                    pass
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(str(path))
            wire.send(sock, {"op": "hello", "part": "preprocessing_analogy"})
            request = wire.receive(sock)  # the server asks the kernel for bn_analogy
            assert request["op"] == "get"
            wire.send(sock, {"ok": True, "value": 3})
            request = wire.receive(sock)
            wire.send(sock, {"ok": True, "value": 2})
            verdict = wire.receive(sock)
    assert verdict["op"] == "verdict" and verdict["score"] == assignment.points["preprocessing_analogy"]
    assert server._thread is not None and len(server.flags) >= len(GARBAGE) - 1
    assert all(flag == flag.encode("utf-8", "replace").decode() for flag in server.flags)
