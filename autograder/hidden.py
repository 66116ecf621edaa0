"""What the notebook's hidden test cells call: `grade_part(part, globals())`.

Two ways to grade, one call:
- Remote (`make grade`): the environment names a socket of the grader. The cell connects,
  and from then on only evaluates the student's functions on inputs the grader sends;
  the checks, the reference and the expected answers stay in the grader, out of the
  student's reach. The score printed here is a courtesy: the grader records its own.
- Local (the instructor running the source notebook, or plain `nbgrader autograde`):
  the checks run in this kernel on the notebook's own functions.

In the sandbox only this module and `wire` exist, so it imports numpy and the standard
library only (and `autograder.checks` in local mode).
"""
import collections
import contextlib
import hashlib
import io
import os
import socket
import sys
import traceback
import warnings

import numpy as np

from autograder import wire

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


# While the function of a key runs, calls to the functions of its value are noticed. A closed
# form that only calls the graph version is reported (the grader also reads the source), and so
# is a backward pass that evaluates the forward pass at inputs the grader never gave it: that is
# numerical differentiation (an honest backward pass that recomputes its cache calls the forward
# on the graded x itself).
WATCHED = {"batchnorm_backward_alt": ("batchnorm_backward", "batchnorm_forward"),
           "batchnorm_backward": ("batchnorm_forward",),
           "layernorm_backward": ("layernorm_forward",)}
FORWARDS = ("batchnorm_forward", "layernorm_forward")
MOVED = " at moved inputs"
_graded_inputs = {name: collections.deque(maxlen=64) for name in FORWARDS}


def _digest(x):
    """A fingerprint of an input array (None when x is not an array of numbers)."""
    try:
        array = np.ascontiguousarray(x)
        if array.dtype == object:
            return None
        return hashlib.blake2b(array.tobytes() + repr((array.dtype.str, array.shape)).encode(),
                               digest_size=16).digest()
    except Exception:  # noqa: BLE001 - whatever the student passed
        return None


def call_watched(namespace, name, function, args):
    """call_quietly(function, args), noting calls to the functions WATCHED[name] meanwhile.

    Returns (result, names of the watched functions that were called; a forward pass called
    on an x the grader never passed it is named "<forward> at moved inputs").
    """
    if name in FORWARDS and args:
        _graded_inputs[name].append(_digest(args[0]))
    originals = {watched: namespace.get(watched) for watched in WATCHED.get(name, ())}
    originals = {watched: f for watched, f in originals.items() if callable(f)}
    called = []

    def tripwire(watched, original):
        def watching(*args, **kwargs):
            x = args[0] if args else kwargs.get("x")
            moved = watched in FORWARDS and _digest(x) not in _graded_inputs[watched]
            called.append(watched + MOVED if moved else watched)
            return original(*args, **kwargs)
        return watching
    code_watch = _code_watch(_watched_codes(namespace, name, function), called)  # before names are rebound
    for watched, original in originals.items():
        namespace[watched] = tripwire(watched, original)
    try:
        with code_watch:
            return call_quietly(function, args), sorted(set(called))
    finally:
        for watched, original in originals.items():
            namespace[watched] = original


# A closed form must not run the graph version's code, under whatever name it reaches it (an alias
# bound before the call, functools.partial, a lambda, a wrapper): its code object is watched.
CODE_WATCHED = {"batchnorm_backward_alt": ("batchnorm_backward",)}


def _signature(code):
    """What a code object computes: its bytecode, constants and names (a copy made with
    code.replace() or FunctionType has the same signature; another function has not)."""
    return code.co_code, code.co_consts, code.co_names


def _watched_codes(namespace, name, function):
    """{code signature: name} of the functions CODE_WATCHED[name] (other than function's own)."""
    own = getattr(function, "__code__", None)
    codes = {w: getattr(namespace.get(w), "__code__", None) for w in CODE_WATCHED.get(name, ())}
    return {_signature(code): w for w, code in codes.items()
            if code is not None and (own is None or _signature(code) != _signature(own))}


@contextlib.contextmanager
def _code_watch(codes, called):
    """While the block runs, note in `called` the name of every code object of codes that starts."""
    if not codes:
        yield
        return

    def profile(frame, event, arg):
        if event == "call":
            watched = codes.get(_signature(frame.f_code))
            if watched:
                called.append(watched)
    import threading

    previous, previous_threads = sys.getprofile(), getattr(threading, "_profile_hook", None)
    sys.setprofile(profile)
    threading.setprofile(profile)  # threads the closed form starts are watched too
    try:
        yield
    finally:
        sys.setprofile(previous)
        threading.setprofile(previous_threads)


def call_quietly(function, args):
    """Call student code with its stdout, stderr and warnings kept out of the test cell.

    nbgrader scores a test cell 0 when it shows anything on stderr, so warnings from
    correct code must not leak into it.
    """
    sink = io.StringIO()
    with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        warnings.simplefilter("ignore")
        return function(*args)


class LocalStudent:
    """The student's code in this very kernel, seen through the interface checks use.

    - facts: what the grader knows of this submission beyond its functions (shared by its parts)
    - called: watched functions the student's functions called (see WATCHED)
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
