"""How the kernel calls a student's function for a hidden test: quietly, and watched.

- call_quietly keeps the function's printing and warnings out of the test cell;
- call_watched also notes which of the student's other functions it reached (by name, and for
  the closed-form backward also by code), so the grader can tell a closed form from the graph
  version, and a backward pass from numerical differentiation.

Part of the bridge the sandboxed kernel imports (autograder.sandbox.BRIDGE_MODULES): numpy and
the standard library only.
"""
import collections
import contextlib
import hashlib
import io
import sys
import warnings

import numpy as np


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
