"""Comparing what a student's function returned with what it should have, and fresh inputs."""
import numpy as np

from autograder import text
from autograder.hidden import CallTimeout
from autograder.checks.verdicts import GradingAborted, StudentError, TooSlow

RTOL = 1e-6


def rel_error(got, expected):
    """Normwise relative error max|got - expected| / max|expected| (0 when both are 0)."""
    scale = np.max(np.abs(expected)) if np.size(expected) else 0.0
    diff = np.max(np.abs(got - expected)) if np.size(expected) else 0.0
    if scale == 0:
        return float(diff)
    return float(diff / scale)


def fmt(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def call(student, name, *args, keep=(), timeout=None):
    """Call a student function; its failure becomes a StudentError with a clear message.

    Inputs:
    - timeout: seconds the call may take (default: the grader's limit for any call)
    """
    stopped = student.__dict__.setdefault("too_slow", set())
    if name in stopped:
        raise StudentError(f"{name} was stopped earlier for running too long: not called again")
    try:
        return student.function(name, keep=keep, timeout=timeout)(*args)
    except TooSlow as error:
        stopped.add(name)
        raise StudentError(f"{name} {error}") from None
    except (StudentError, GradingAborted):
        raise
    except CallTimeout as error:
        stopped.add(name)
        raise StudentError(f"{name} {error}") from None
    except NameError as error:
        raise StudentError(f"{name} is not defined: {text.one_line(error)}") from None
    except Exception as error:
        raise StudentError(f"{name} raised {text.exception(error)}") from None


def returned_tuple(name, result, length, labels):
    if not isinstance(result, tuple) or len(result) != length:
        kind = type(result).__name__
        raise StudentError(f"{name} must return a tuple ({', '.join(labels)}); it returned {kind}"
                           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


def array_problem(label, value, shape):
    """Why `value` is not a float64 array of `shape`, or '' when it is."""
    if value is None:
        return f"{label} is None: the code that computes it has not been written yet."
    if isinstance(value, tuple):
        return (f"{label} must be a numpy array, got a tuple: are the returned values in the order "
                "the docstring gives?")
    if not isinstance(value, np.ndarray):
        return f"{label} must be a numpy array, got {type(value).__name__}."
    if value.shape != tuple(shape):
        return f"{label} has shape {fmt(value.shape)}, expected {fmt(shape)}."
    if value.dtype != np.float64:
        return f"{label} has dtype {value.dtype}, expected float64."
    if not np.all(np.isfinite(value)):
        return f"{label} contains NaN or inf."
    return ""


def is_result(value, shape):
    """A real array of the right size (any dtype, any shape of that size): enough to check what
    the call did to its inputs, and its shape."""
    return isinstance(value, np.ndarray) and value.size == int(np.prod(shape))


def conform(label, value, shape, context, shapes):
    """value, reshaped to `shape` when it holds as many numbers in a shape that differs only by
    axes of length 1 (e.g. (1, D) for (D,)); that mistake is recorded in the `shapes` ledger
    alone, so that one cause costs one check."""
    if shapes is None or not isinstance(value, np.ndarray):
        return value
    if value.shape != tuple(shape) and value.size == int(np.prod(shape)) and \
            tuple(n for n in value.shape if n != 1) == tuple(n for n in shape if n != 1):
        shapes.add(f"{context}: {label} has shape {fmt(value.shape)}, expected {fmt(shape)} "
                   "(the values are right; drop the extra axis, e.g. without keepdims).")
        return value.reshape(shape)
    return value


def elementwise_error(got, expected):
    """max_i |got_i - expected_i| / |expected_i| (entries where expected is 0 count absolutely)."""
    size = np.where(np.abs(expected) > 0, np.abs(expected), 1.0)
    return float(np.max(np.abs(got - expected) / size)) if np.size(expected) else 0.0


def compare(label, value, expected, context, diagnoses=(), scale=None, shapes=None, elementwise=False):
    """'' when value matches expected to RTOL; otherwise a message with a hint.

    diagnoses: (description, wrong_value) pairs; when value matches a known mistake the
    message names it.
    scale: the magnitude errors are measured against (default: max |expected|)
    shapes: a Ledger for values of the right size in a shape with extra axes of length 1 (see
    conform); without it such a value is simply wrong
    elementwise: measure every entry against its own size (per-feature statistics such as the
    running averages, where a feature of tiny variance stands as much alone as a large one)
    """
    value = conform(label, value, expected.shape, context, shapes)
    problem = array_problem(label, value, expected.shape)
    if problem:
        return f"{context}: {problem}"
    if elementwise:
        error = elementwise_error(value, expected)
    else:
        error = rel_error(value, expected) if scale is None else float(np.max(np.abs(value - expected)) / scale)
    if error <= RTOL:
        return ""
    message = f"{context}: {label} is wrong (relative error {error:.1e})."
    for description, wrong in diagnoses:
        measure = elementwise_error if elementwise else rel_error
        if wrong.shape == value.shape and measure(value, wrong) <= RTOL:
            return message + f" It matches {description}" + ("" if description.endswith("?") else ".")
    return message


def cases(rng, shapes, small_variance=True):
    """Fresh inputs: features of very different scales, gamma near 1, beta small."""
    for N, D in shapes:
        scales = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=D))
        if small_variance:
            scales[rng.integers(D)] = 0.005  # a feature whose variance is below eps
        x = rng.normal(size=(N, D)) * scales + rng.normal(scale=3.0, size=D)
        gamma = 1.0 + 0.5 * rng.normal(size=D)
        beta = 0.5 * rng.normal(size=D)
        yield x, gamma, beta


BN_SHAPES = [(8, 5), (6, 6), (64, 3), (3, 40), (5, 1)]
LN_SHAPES = [(5, 8), (6, 6), (3, 64), (40, 3), (1, 9)]
EPSILONS = (1e-3, 1e-4, 2e-3, 5e-4, 1e-3)
MOMENTA = (0.7, 0.5, 0.95, 0.8, 0.6)
