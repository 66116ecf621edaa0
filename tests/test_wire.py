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
