"""What the notebook's hidden test cells call: `grade_part(part, globals())`.

Two ways to grade, one call:
- Remote (`make grade`): the environment names a socket of the grader. The cell connects,
  and from then on only evaluates the student's functions on inputs the grader sends;
  the checks, the reference and the expected answers stay in the grader, out of the
  student's reach. The score printed here is a courtesy: the grader records its own.
- Local (the instructor running the source notebook, or plain `nbgrader autograde`):
  the checks run in this kernel on the notebook's own functions.

In the sandbox only this module, `calls` and `wire` exist, so it imports numpy and the standard
library only (and `autograder.checks` in local mode).
"""
import contextlib
import os
import socket
import traceback

import numpy as np

from autograder import wire
from autograder.calls import call_watched

SOCKET_ENV = "NORMLAB_CHECK_SOCKET"


def grade_part(part, namespace):
    """Grade one part of this notebook and return its score as a plain float.

    Inputs:
    - part: grade_id of the answer cell to grade
    - namespace: the notebook's globals()
    """
    path = os.environ.get(SOCKET_ENV)
    if path:
        return _graded_remotely(part, namespace, path)
    return _graded_here(part, namespace)


class LocalStudent:
    """The student's code in this very kernel, seen through the interface checks use.

    - facts: what the grader knows of this submission beyond its functions (shared by its parts)
    - called: watched functions the student's functions called (autograder.calls.WATCHED)
    """

    def __init__(self, namespace, facts=None):
        self.namespace = namespace
        self.facts = facts if facts is not None else {}
        self.called = set()

    def function(self, name, keep=(), timeout=None):
        """The student's function as a callable; timeout: CPU seconds one call may take (enforced
        with timer signals in the main thread, see _time_limit)."""
        function = self.namespace.get(name)
        if not callable(function):
            raise NameError(f"{name} is not defined as a function: run its cell, and keep its name")

        def call(*args):
            with _time_limit(timeout):
                result, called = call_watched(self.namespace, name, function, args)
            self.called.update(called)
            return result
        return call

    def value(self, name):
        if name not in self.namespace:
            raise NameError(f"{name} is not defined: run its cell")
        return self.namespace[name]


class GraderInterrupt(BaseException):
    """The grader stopped a call of student code that ran past its time limit (SIGUSR1)."""


@contextlib.contextmanager
def _stoppable():
    """While student code runs for the grader, SIGUSR1 stops it (and nothing else does: Jupyter's
    own interrupt, SIGINT, still ends the whole cell)."""
    import signal

    def stop(signum, frame):
        raise GraderInterrupt()
    previous = signal.signal(signal.SIGUSR1, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGUSR1, previous)


class CallTimeout(BaseException):
    """A call of student code ran past its time limit (in-process grading; a BaseException so
    that the student's own `except Exception` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds, wall_factor=4.0):
    """Stop the call after `seconds` of this process's CPU time (a loaded machine must not make
    honest code late), or after wall_factor times that in wall time (code that sleeps)."""
    import signal
    import threading

    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        if signum == signal.SIGPROF:
            raise CallTimeout(f"did not finish within {seconds:g} s of CPU time")
        raise CallTimeout(f"did not finish within {wall_factor * seconds:g} s")
    previous = {number: signal.signal(number, expire) for number in (signal.SIGPROF, signal.SIGALRM)}
    signal.setitimer(signal.ITIMER_PROF, seconds)
    signal.setitimer(signal.ITIMER_REAL, wall_factor * seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.setitimer(signal.ITIMER_REAL, 0)
        for number, handler in previous.items():
            signal.signal(number, handler)


def _graded_here(part, namespace):
    from autograder import checks

    verdict = checks.check_part(part, LocalStudent(namespace))
    print(verdict.report())
    return verdict.score


def _graded_remotely(part, namespace, path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(path)
        wire.send(sock, {"op": "hello", "part": part})
        kernel = _KernelSide(namespace)
        while True:
            message = wire.receive(sock)
            if message.get("op") == "verdict":
                print(message.get("report", ""))
                return float(message.get("score", 0.0))
            wire.send(sock, kernel.handle(message))


class _KernelSide:
    """Evaluates the grader's requests on the notebook's namespace."""

    def __init__(self, namespace):
        self.namespace = namespace
        self.kept = {}
        self.next_id = 0

    def _keep(self, value):
        self.next_id += 1
        self.kept[self.next_id] = value
        return wire.Handle(self.next_id, type(value).__name__)

    def _resolve(self, handle_id, type_name):
        return self.kept[handle_id]

    def handle(self, message):
        for handle_id in message.get("free", []):
            self.kept.pop(handle_id, None)
        op = message.get("op")
        try:
            if op == "call":
                return self._call(message)
            if op == "get":
                return self._get(message["name"])
            return {"ok": False, "error": {"type": "ProtocolError", "message": f"unknown op {op!r}"}}
        except wire.WireError as error:
            return {"ok": False, "error": {"type": "WireError", "message": str(error)}}

    def _get(self, name):
        if name not in self.namespace:
            return {"ok": False, "error": {"type": "NameError", "message": f"{name} is not defined"}}
        value = self.namespace[name]
        try:
            return {"ok": True, "value": wire.encode(value)}
        except wire.WireError:
            return {"ok": True, "value": {"__repr__": repr(value)[:200], "type": type(value).__name__}}

    def _call(self, message):
        name = message["name"]
        function = self.namespace.get(name)
        if not callable(function):
            return {"ok": False, "error": {"type": "NameError",
                                           "message": f"{name} is not defined as a function"}}
        args = [wire.decode(a, self._resolve) for a in message.get("args", [])]
        before = [a.copy() if isinstance(a, np.ndarray) else None for a in args]
        try:
            with _stoppable():
                result, called = call_watched(self.namespace, name, function, args)
        except GraderInterrupt:  # the grader stopped a call past its time limit
            return {"ok": False, "error": {"type": "Interrupted", "message": "stopped by the grader"}}
        except Exception as error:
            return {"ok": False, "error": _describe(error)}
        except SystemExit:
            return {"ok": False, "error": {"type": "SystemExit", "message": "called sys.exit()"}}
        keep = set(message.get("keep", []))
        if isinstance(result, tuple):
            result = tuple(self._keep(v) if i in keep else v for i, v in enumerate(result))
        # what the call did to its arguments goes back (dicts always: bn_param; arrays only when changed)
        echoed = [wire.encode(a, self._keep) if isinstance(a, dict) or (
            hasattr(a, "dtype") and not (isinstance(b, np.ndarray) and b.shape == a.shape and np.array_equal(a, b)))
            else None for a, b in zip(args, before)]
        return {"ok": True, "result": wire.encode(result, self._keep), "args": echoed, "called": called}


def _describe(error):
    """The exception and the student's line that raised it, without the grader's frames."""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename != __file__]
    where = ""
    if frames:
        last = frames[-1]
        where = f"line {last.lineno} in {last.name}" + (f": {last.line.strip()}" if last.line else "")
    return {"type": type(error).__name__, "message": str(error)[:500], "where": where}
