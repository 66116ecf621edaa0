"""The wire carries plain numeric data both ways, exactly, and refuses anything else."""
import json
import socket
import struct
import threading
import time

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


def test_many_arrays_in_one_frame_each_arrive_in_their_place():
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(50, 4)), np.zeros((0, 2)), np.array(7, dtype=np.int8), rng.normal(size=3).astype(np.float32),
              np.asfortranarray(rng.normal(size=(3, 5)))]
    message = {"op": "call", "args": [wire.encode(arrays[0]), wire.encode({"inner": arrays[1:3]})],
               "result": wire.encode((arrays[3], None, [arrays[4]])), "plain": {"__buffer__": 0, "other": 1}}
    left, right = socket.socketpair()
    with left, right:
        wire.send(left, message)
        received = wire.receive(right)
    got = [wire.decode(received["args"][0]), *wire.decode(received["args"][1])["inner"]]
    result = wire.decode(received["result"])
    got += [result[0], result[2][0]]
    for value, expected in zip(got, arrays):
        assert value.dtype == expected.dtype and value.shape == expected.shape and np.array_equal(value, expected)
    assert received["plain"] == {"__buffer__": 0, "other": 1}  # only a lone buffer reference is replaced


@pytest.mark.parametrize("reference", [5, -1, "0", 0.0, None, True])
def test_a_reference_to_a_buffer_the_frame_does_not_have_is_refused(reference):
    header = json.dumps({"op": "call", "args": [{"__array__": {"__buffer__": reference}, "dtype": "<f8",
                                                 "shape": [1]}]}).encode()
    frame = struct.pack("!I", len(header)) + header + struct.pack("!IQ", 1, 8) + np.ones(1).tobytes()
    left, right = socket.socketpair()
    with left, right:
        left.sendall(frame)
        with pytest.raises(wire.WireError):
            wire.receive(right)


def _array_frame(shape, buffers=(b"\0" * 8,), references=None):
    """A frame whose header holds arrays of the given shape, each referring to one of buffers."""
    references = references if references is not None else list(range(len(buffers)))
    header = json.dumps({"op": "call", "args": [{"__seq__": [
        {"__array__": {"__buffer__": i}, "dtype": "<f8", "shape": shape} for i in references], "tuple": False}]})
    header = header.encode()
    return (struct.pack("!I", len(header)) + header + struct.pack(f"!I{len(buffers)}Q", len(buffers),
                                                                   *map(len, buffers)) + b"".join(buffers))


@pytest.mark.parametrize("shape", [[10**300] * 50_000, [1e300] * 40, [2.0], "8", [1, True], [-1, -8], [2] * 33,
                                   [0, 10**4000]])
def test_an_array_shape_that_is_not_a_short_list_of_sizes_is_refused_before_any_work(shape):
    left, right = socket.socketpair()
    with left, right:
        sender = threading.Thread(target=left.sendall, args=(_array_frame(shape),))
        sender.start()
        message = wire.receive(right)
        sender.join()
    with pytest.raises(wire.WireError):
        wire.decode(message["args"][0])


def test_a_buffer_is_used_once_so_a_small_frame_cannot_decode_to_many_copies():
    left, right = socket.socketpair()
    with left, right:
        left.sendall(_array_frame([1], references=[0, 0, 0]))
        with pytest.raises(wire.WireError):
            wire.receive(right)
        left.sendall(_array_frame([1], buffers=(b"\0" * 8, b"\1" * 8)))
        assert len(wire.decode(wire.receive(right)["args"][0])) == 2


@pytest.mark.parametrize("data", [{"__seq__": "many characters"}, {"__seq__": {"a": 1}}, {"__dict__": [1, 2]}])
def test_containers_must_be_what_they_say(data):
    with pytest.raises(wire.WireError):
        wire.decode(data)


def test_the_socket_timeout_bounds_a_whole_message_not_each_read():
    left, right = socket.socketpair()
    frame = _array_frame([1])

    def drip():
        for byte in frame:
            try:
                left.send(bytes([byte]))
            except OSError:
                return
            time.sleep(0.05)

    with left, right:
        right.settimeout(0.5)
        sender = threading.Thread(target=drip, daemon=True)
        sender.start()
        with pytest.raises(socket.timeout):
            wire.receive(right)  # each byte comes well within 0.5 s; the whole frame does not
        assert right.gettimeout() == 0.5
        left.close()
        sender.join()


def test_a_masked_array_is_sent_with_its_own_data():
    masked = np.ma.masked_array([1.0, 2.0, 3.0], mask=[False, True, False])
    assert np.array_equal(wire.decode(wire.encode(masked)), [1.0, 2.0, 3.0])


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


def _kernel_that_answers_late(connection, answer_after_interrupt):
    """A stand-in for the student's kernel: takes one call, and once interrupted (the grader's
    interrupt callable sets the event) answers with a result instead of "Interrupted"."""
    import threading

    interrupted = threading.Event()

    def serve():
        wire.receive(connection)
        interrupted.wait(30)
        wire.send(connection, answer_after_interrupt)
    threading.Thread(target=serve, daemon=True).start()
    return interrupted.set


@pytest.mark.parametrize("clock", ["cpu", "wall"])
def test_a_call_found_late_stays_late_whatever_the_kernel_answers_after_the_interrupt(clock):
    """A kernel that swallows the interrupt and sends a result anyway is still too slow."""
    from autograder import remote
    from autograder.checks.verdicts import TooSlow

    grader, kernel = socket.socketpair()
    with grader, kernel:
        answer = {"ok": True, "result": wire.encode((np.ones(3), np.ones(3), np.ones(3))), "called": []}
        interrupt = _kernel_that_answers_late(kernel, answer)
        burnt = iter(range(0, 1000, 5))  # a CPU clock that runs 5 s per reading
        student = remote.RemoteStudent(grader, call_timeout=0.5, interrupt=interrupt,
                                       cpu_clock=(lambda: next(burnt)) if clock == "cpu" else None)
        with pytest.raises(TooSlow):
            student.function("batchnorm_backward", timeout=1.0)(np.ones(3), None)


def test_the_kernel_cpu_clock_counts_the_processes_it_started():
    """CPU time spent in a child process (alive or reaped) counts as the kernel's."""
    import subprocess
    import sys

    from autograder import kernel

    burn = ("import os, time\n"
            "def spin(s):\n"
            "    end = time.process_time() + s\n"
            "    while time.process_time() < end: pass\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    spin(1.5); os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "print('reaped', flush=True)\n"
            "time.sleep(30)\n")
    parent = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        clock = kernel.cpu_clock(parent.pid)
        assert parent.stdout.readline().strip() == "reaped"
        assert clock() >= 1.4  # the parent itself used almost none of it
    finally:
        parent.kill()
        parent.wait()
