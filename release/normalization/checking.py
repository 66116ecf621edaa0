"""The notebook's checks: relative errors, assertions whose messages say what to fix, and the
visible checks of each part.

`check(part, globals())` runs the visible checks of one part on small fixed inputs and stops at
the first problem with a sentence you can act on. The results a correct implementation gives on
those inputs, and the results of common mistakes (so that a message can say which one you
made), come precomputed in visible_checks.npz beside this file. The hidden tests that grade your
notebook use the same measure, the same words, and fresh inputs.
"""
import json
import os
import textwrap
from pathlib import Path

import numpy as np

TABLE = Path(__file__).with_name("visible_checks.npz")
TOLERANCE = 1e-6  # the hidden tests accept relative errors up to this


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


def check_close(label, value, expected, tol=TOLERANCE, hint="", mistakes=(), scale=None):
    """Assert that value has expected's shape and agrees with it to relative error tol.

    Inputs:
    - mistakes: (description, wrong value) pairs; a value that matches one is told which
    - scale: the size errors are measured against (default: max |expected|)
    """
    expected = np.asarray(expected, dtype=float)
    check_array(label, value, expected.shape)
    error = rel_error(value, expected) if scale is None else float(np.max(np.abs(value - expected)) / scale)
    message = f"{label}: relative error {error:.1e} (should be below {tol:.0e})."
    if error > tol:
        for description, wrong in mistakes:
            if wrong.shape == value.shape and rel_error(value, wrong) <= tol:
                message += f" It matches {description}" + ("" if description.endswith("?") else ".")
                break
        else:
            message += f" {hint}" if hint else ""
    assert error <= tol, message
    print(f"{label}: ok (relative error {error:.1e})")


def check_unchanged(label, before, after):
    """Assert that an input array was not modified."""
    assert np.array_equal(before, after), (
        f"your function modified its input {label}; work on a copy (e.g. x - mean makes a new array, "
        f"x -= mean changes the caller's array).")


def check_option(name, value, options):
    """Assert that an answer is one of its options."""
    assert value in options and not isinstance(value, bool), (
        f"{name} must be one of {', '.join(map(repr, options))}; it is {value!r}.")


# ----------------------------------------------------------------------------------------------
# The visible checks of each part


class CheckFailed(AssertionError):
    """A visible check that failed, shown as its sentence alone: no traceback to scroll through
    (in the notebook and in Validate's report). Errors raised by your own code keep theirs."""

    def __init__(self, part, message):
        super().__init__(message)
        self.part = part

    def _render_traceback_(self):  # how IPython shows this exception
        # lines of at most 78 characters: Validate's report cuts longer lines short
        lines = textwrap.wrap(f"Check of {self.part} failed: {self}", 78, break_on_hyphens=False)
        heading = f"Check of {self.part} failed:"
        return [lines[0].replace(heading, f"\x1b[0;31m{heading}\x1b[0m", 1)] + lines[1:]


def check(part, namespace):
    """Run the visible checks of one part of the notebook (namespace: the notebook's globals()).

    While the notebook is being graded the hidden tests do this job, so nothing runs then.
    """
    if os.environ.get("NBGRADER_EXECUTION") == "autograde":
        return
    try:
        CHECKS[part](namespace, part)
    except AssertionError as error:
        raise CheckFailed(part, str(error)) from None
    print(f"{part} passes the visible checks.")


def _cases(part):
    with np.load(TABLE) as table:
        index = json.loads(str(table["__index__"]))
        arrays = {key: table[key] for key in table.files if key != "__index__"}
    for case in index[part]:
        yield case, arrays


def _function(namespace, name):
    function = namespace.get(name)
    assert callable(function), f"{name} is not defined: run its cell first (and keep its name)."
    return function


def _returned(name, result, labels):
    assert isinstance(result, tuple) and len(result) == len(labels), (
        f"{name} must return a tuple ({', '.join(labels)}); it returned {type(result).__name__}.")
    return result


def _mistakes(case, arrays, key):
    return [(description, arrays[array]) for description, array in case["mistakes"].get(key, [])]


def _check_forward(namespace, part):
    forward = _function(namespace, part)
    for case, arrays in _cases(part):
        print(f"-- {case['title']}")
        x, gamma, beta = (arrays[case["inputs"][k]].copy() for k in ("x", "gamma", "beta"))
        param = {k: (np.array(v) if isinstance(v, list) else v) for k, v in case["param"].items()}
        before = [x.copy(), gamma.copy(), beta.copy()]
        out, _ = _returned(part, forward(x, gamma, beta, param), ("out", "cache"))
        for label, old, new in zip(("x", "gamma", "beta"), before, (x, gamma, beta)):
            check_unchanged(label, old, new)
        check_close("out", out, arrays[case["expect"]["out"]], mistakes=_mistakes(case, arrays, "out"))
        for key in ("running_mean", "running_var"):
            if key in case["expect"]:
                assert key in param, (f'bn_param has no "{key}" after the call; store the updated running '
                                      "averages back into bn_param.")
                check_close(f'bn_param["{key}"]', param[key], arrays[case["expect"][key]],
                            mistakes=_mistakes(case, arrays, key))


def _check_backward(namespace, part):
    backward = _function(namespace, part)
    for case, arrays in _cases(part):
        print(f"-- {case['title']}")
        forward = _function(namespace, case["forward"])
        x, gamma, beta, dout = (arrays[case["inputs"][k]].copy() for k in ("x", "gamma", "beta", "dout"))
        out, cache = _returned(case["forward"], forward(x, gamma, beta, dict(case["param"])), ("out", "cache"))
        check_array(f"the output of {case['forward']} (needed for this check)", out, x.shape)
        forward_wrong = rel_error(out, arrays[case["expect"]["out"]]) > TOLERANCE
        dout_before = dout.copy()
        grads = _returned(part, backward(dout, cache), ("dx", "dgamma", "dbeta"))
        check_unchanged("dout", dout_before, dout)
        try:
            for key, value in zip(("dx", "dgamma", "dbeta"), grads):
                check_close(key, value, arrays[case["expect"][key]], mistakes=_mistakes(case, arrays, key),
                            scale=case.get("scale", {}).get(key))
        except AssertionError as error:
            if not forward_wrong:
                raise
            raise AssertionError(f"{error} Your {case['forward']} gives a wrong output here too, and this check "
                                 f"goes through its cache: fix {case['forward']} first.") from None


def _check_analogy(namespace, part):
    for name in ("bn_analogy", "ln_analogy"):
        assert name in namespace, f"{name} is not set: run its cell first."
        check_option(name, namespace[name], (1, 2, 3, 4))
    assert namespace["bn_analogy"] != namespace["ln_analogy"], (
        "Batch norm and layer norm compute different statistics: pick two different options.")
    print("Both answers are valid option numbers (whether they are right is graded when you submit).")


def _check_answer(options):
    def check_answer(namespace, part):
        assert part in namespace, f"{part} is not set: run its cell first."
        check_option(part, namespace[part], options)
        print(f"{part} is one of the options (whether it is right is graded when you submit).")
    return check_answer


def _check_training(namespace, part):
    experiment = __import__("experiment")
    functions = experiment.NormFunctions.collect(namespace, "batchnorm_backward_alt")
    x_small = np.random.default_rng(8).normal(size=(4, 5))
    for name, backward in (("batchnorm_forward", "batchnorm_backward_alt"), ("layernorm_forward", "layernorm_backward")):
        out, cache = _function(namespace, name)(x_small, np.ones(5), np.zeros(5), {"mode": "train"})
        check_array(f"the output of {name} (implement it first)", out, x_small.shape)
        check_array(f"dx of {backward} (implement it first)", _function(namespace, backward)(
            np.ones_like(x_small), cache)[0], x_small.shape)
    for normalization in (None, "batchnorm", "layernorm"):
        errors = experiment.gradient_check_net(functions, normalization)
        worst = max(errors, key=errors.get)
        label = experiment.LABELS[experiment.norm_name(normalization)]
        print(f"{label:17} largest relative error {errors[worst]:.1e}  (in {worst})")
        assert errors[worst] < 1e-6, (
            f"With normalization={normalization!r} the network's gradient of {worst} is wrong "
            f"(relative error {errors[worst]:.1e}). Your forward and backward passes disagree inside "
            "the network: make sure each of them passes its own check above, and that the backward "
            "pass uses only what the forward pass put in the cache.")


CHECKS = {
    "batchnorm_forward": _check_forward,
    "batchnorm_backward": _check_backward,
    "batchnorm_backward_alt": _check_backward,
    "layernorm_forward": _check_forward,
    "layernorm_backward": _check_backward,
    "preprocessing_analogy": _check_analogy,
    "batchsize_training": _check_training,
    "batchsize_most_sensitive": _check_answer(("none", "batchnorm", "layernorm")),
    "batchsize_layernorm_like": _check_answer(("none", "batchnorm")),
    "batchsize_bn_mode": _check_answer(("train", "test")),
    "batchsize_seed_claim": _check_answer(("updates", "examples", "both", "neither")),
}
