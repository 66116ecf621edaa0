"""Helpers for the notebook's visible checks: relative errors, numerical gradients and
assertions whose messages say what to fix.

Every check raises AssertionError with a sentence you can act on; nothing here only
prints a number for you to eyeball.
"""
import numpy as np


def rel_error(got, expected):
    """
    Normwise relative error: max|got - expected| / max|expected|.

    The hidden tests use the same measure and accept errors up to 1e-6.

    Inputs:
    - got, expected: Arrays of the same shape

    Returns:
    - error: A float (0.0 when both are exactly equal)
    """
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    scale = np.max(np.abs(expected), initial=0.0)
    diff = np.max(np.abs(got - expected), initial=0.0)
    return float(diff / scale) if scale > 0 else float(diff)


def numerical_gradient(f, x, dout, h=1e-5):
    """
    Central-difference gradient of the scalar sum(f() * dout) with respect to x.

    x is perturbed in place, one entry at a time, and restored afterwards.

    Inputs:
    - f: Function of no arguments that reads x and returns an array shaped like dout
    - x: Array to differentiate with respect to (any shape)
    - dout: Upstream gradient, the same shape as f's output
    - h: Step size

    Returns:
    - grad: Array of the same shape as x
    """
    grad = np.zeros_like(x, dtype=float)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        i = it.multi_index
        saved = x[i]
        x[i] = saved + h
        plus = np.sum(f() * dout)
        x[i] = saved - h
        minus = np.sum(f() * dout)
        x[i] = saved
        grad[i] = (plus - minus) / (2 * h)
        it.iternext()
    return grad


def _shape(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def check_array(label, value, shape):
    """Assert that value is a float64 numpy array of the given shape."""
    assert value is not None, f"{label} is None: the code that computes it has not been written yet."
    assert isinstance(value, np.ndarray), f"{label} must be a numpy array, got {type(value).__name__}."
    assert value.shape == tuple(shape), f"{label} has shape {_shape(value.shape)}, expected {_shape(shape)}."
    assert value.dtype == np.float64, f"{label} has dtype {value.dtype}, expected float64."
    assert np.all(np.isfinite(value)), f"{label} contains NaN or inf."


def check_close(label, value, expected, tol=1e-6, hint=""):
    """Assert that value has expected's shape and agrees with it to relative error tol."""
    expected = np.asarray(expected, dtype=float)
    check_array(label, value, expected.shape)
    error = rel_error(value, expected)
    message = f"{label}: relative error {error:.1e} (should be below {tol:.0e})."
    assert error <= tol, message + (f" {hint}" if hint else "")
    print(f"{label}: ok (relative error {error:.1e})")


def check_unchanged(label, before, after):
    """Assert that an input array was not modified."""
    assert np.array_equal(before, after), (
        f"your function modified its input {label}; work on a copy (e.g. x - mean makes a new array, "
        f"x -= mean changes the caller's array).")


def check_gradients(forward, backward, x, gamma, beta, param, hints=None, tol=1e-7):
    """
    Compare an analytic backward pass with numerical gradients.

    Inputs:
    - forward: Function (x, gamma, beta, param) -> (out, cache)
    - backward: Function (dout, cache) -> (dx, dgamma, dbeta)
    - x, gamma, beta, param: Inputs of the forward pass; param is copied for every call
    - hints: Optional dict from "dx" / "dgamma" / "dbeta" to a hint shown on failure
    - tol: Largest relative error accepted
    """
    hints = hints or {}
    rng = np.random.default_rng(0)
    dout = rng.normal(size=x.shape)
    out, _ = forward(x, gamma, beta, dict(param))
    check_array(f"the output of {forward.__name__} (needed for this check)", out, x.shape)

    def out_of(xv, gv, bv):
        return lambda: forward(xv, gv, bv, dict(param))[0]

    numeric = {
        "dx": numerical_gradient(out_of(x, gamma, beta), x, dout),
        "dgamma": numerical_gradient(out_of(x, gamma, beta), gamma, dout),
        "dbeta": numerical_gradient(out_of(x, gamma, beta), beta, dout),
    }
    _, cache = forward(x, gamma, beta, dict(param))
    dout_before = dout.copy()
    grads = backward(dout, cache)
    assert isinstance(grads, tuple) and len(grads) == 3, "backward must return a tuple (dx, dgamma, dbeta)."
    check_unchanged("dout", dout_before, dout)
    for (name, value), shape in zip(zip(("dx", "dgamma", "dbeta"), grads), (x.shape, gamma.shape, beta.shape)):
        check_array(name, value, shape)
    for name, value in zip(("dx", "dgamma", "dbeta"), grads):
        check_close(name, value, numeric[name], tol, hints.get(name, ""))
