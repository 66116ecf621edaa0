"""What the hidden tests check, with the messages students read.

Each graded part (the grade_id of an answer cell) has one check function here. It
receives a `student` (anything with `.function(name, keep=())` and `.value(name)`:
the notebook's own namespace, or a proxy to a sandboxed kernel) and a seeded random
generator, calls the student's code on fresh inputs, compares with
`autograder.reference`, and returns a Verdict made of independently weighted checks.

The check functions never trust what they get back: every value is validated before
it is compared, exceptions from student code become messages, and nothing here
depends on where the student's code runs.
"""
import functools
from dataclasses import dataclass, field

import numpy as np

from autograder import course, reference

RTOL = 1e-6


class StudentError(Exception):
    """Student code failed (raised, timed out, returned something unusable)."""


class GradingAborted(Exception):
    """Grading of a part cannot go on (e.g. the student's kernel is gone); never caught here."""


@dataclass
class Check:
    """One independently graded property of a part."""

    name: str
    weight: float
    passed: bool
    message: str = ""


@dataclass
class Verdict:
    """The result of grading one part: its checks and the points they earn."""

    part: str
    points: float
    checks: list = field(default_factory=list)
    note: str = ""

    @property
    def score(self):
        total = sum(c.weight for c in self.checks)
        if total == 0:
            return 0.0
        earned = sum(c.weight for c in self.checks if c.passed)
        return float(min(self.points, round(self.points * earned / total, 2)))

    def report(self):
        """The text printed under the hidden test cell and kept in results.json."""
        lines = [f"{self.part}: {self.score:g} / {self.points:g} points"]
        if self.note:
            lines.append(f"  {self.note}")
        for c in self.checks:
            mark = "ok  " if c.passed else "FAIL"
            lines.append(f"  [{mark}] {c.name}")
            if not c.passed and c.message:
                lines.extend(f"         {line}" for line in c.message.splitlines())
        return "\n".join(lines)

    def to_dict(self):
        return {
            "part": self.part,
            "score": self.score,
            "points": self.points,
            "note": self.note,
            "checks": [vars(c) for c in self.checks],
            "report": self.report(),
        }


def check_part(part, student, seed=None, assignment_id=course.DEFAULT_ASSIGNMENT):
    """Grade one part of one student's notebook.

    Inputs:
    - part: grade_id of the answer cell (a key of the manifest's points)
    - student: object with .function(name, keep=()) and .value(name)
    - seed: int seed for the fresh inputs; default: the manifest's grading seed

    Returns a Verdict.
    """
    assignment = course.assignment(assignment_id)
    if part not in CHECKS:
        raise KeyError(f"no hidden checks for part {part!r}")
    seed = assignment.grading_seed if seed is None else seed
    rng = np.random.default_rng(seed)
    verdict = Verdict(part=part, points=assignment.points[part])
    try:
        CHECKS[part](student, rng, verdict)
    except StudentError as error:
        verdict.note = str(error)
    if not verdict.checks:
        verdict.checks.append(Check("could not be graded", 1.0, False, verdict.note))
    return verdict


# ---------------------------------------------------------------------------------------
# Small helpers


def rel_error(got, expected):
    """Normwise relative error max|got - expected| / max|expected| (0 when both are 0)."""
    scale = np.max(np.abs(expected)) if np.size(expected) else 0.0
    diff = np.max(np.abs(got - expected)) if np.size(expected) else 0.0
    if scale == 0:
        return float(diff)
    return float(diff / scale)


def _fmt(shape):
    return "(" + ", ".join(str(n) for n in shape) + ("," if len(shape) == 1 else "") + ")"


def _call(student, name, *args, keep=()):
    """Call a student function; its failure becomes a StudentError with a clear message."""
    try:
        return student.function(name, keep=keep)(*args)
    except (StudentError, GradingAborted):
        raise
    except NameError as error:
        raise StudentError(f"{name} is not defined: {error}") from None
    except Exception as error:
        raise StudentError(f"{name} raised {type(error).__name__}: {error}") from None


def _returned_tuple(name, result, length, labels):
    if not isinstance(result, tuple) or len(result) != length:
        kind = type(result).__name__
        raise StudentError(f"{name} must return a tuple ({', '.join(labels)}); it returned {kind}"
                           + (f" of length {len(result)}" if isinstance(result, (tuple, list)) else ""))
    return result


def _array_problem(label, value, shape):
    """Why `value` is not a float64 array of `shape`, or '' when it is."""
    if value is None:
        return f"{label} is None: the code that computes it has not been written yet."
    if isinstance(value, tuple):
        return (f"{label} must be a numpy array, got a tuple: are the returned values in the order "
                "the docstring gives?")
    if not isinstance(value, np.ndarray):
        return f"{label} must be a numpy array, got {type(value).__name__}."
    if value.shape != tuple(shape):
        return f"{label} has shape {_fmt(value.shape)}, expected {_fmt(shape)}."
    if value.dtype != np.float64:
        return f"{label} has dtype {value.dtype}, expected float64."
    if not np.all(np.isfinite(value)):
        return f"{label} contains NaN or inf."
    return ""


def _is_result(value, shape):
    """A real array of the right shape (any dtype): enough to check what the call did to its inputs."""
    return isinstance(value, np.ndarray) and value.shape == tuple(shape)


def _compare(label, value, expected, context, diagnoses=(), scale=None):
    """'' when value matches expected to RTOL; otherwise a message with a hint.

    diagnoses: (description, wrong_value) pairs; when value matches a known mistake the
    message names it.
    scale: the magnitude errors are measured against (default: max |expected|)
    """
    problem = _array_problem(label, value, expected.shape)
    if problem:
        return f"{context}: {problem}"
    error = rel_error(value, expected) if scale is None else float(np.max(np.abs(value - expected)) / scale)
    if error <= RTOL:
        return ""
    message = f"{context}: {label} is wrong (relative error {error:.1e})."
    for description, wrong in diagnoses:
        if wrong.shape == value.shape and rel_error(value, wrong) <= RTOL:
            return message + f" It matches {description}" + ("" if description.endswith("?") else ".")
    return message


class _Ledger:
    """Collects failures of one check over several trials.

    A check that never got to look at a real result (e.g. "inputs unchanged" when the
    function returned nothing) fails: an empty stub earns no points.
    """

    def __init__(self, needs_evidence=False):
        self.failures = []
        self.reasons = set()
        self.evidence = not needs_evidence

    def add(self, message):
        reason = message.split(": ", 1)[-1]
        if message and reason not in self.reasons:
            self.reasons.add(reason)
            self.failures.append(message)

    def saw_result(self):
        self.evidence = True

    def result(self, name, weight):
        failures = self.failures or ([] if self.evidence else
                                     ["nothing to check: the function never returned a usable result"])
        return Check(name, weight, not failures, "\n".join(failures[:3]))


def _cases(rng, shapes, small_variance=True):
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


# ---------------------------------------------------------------------------------------
# Known mistakes, used only to name what went wrong


def _normalised(x, axis, eps, ddof=0, eps_outside=False):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return (x - mean) / std


def _forward_mistakes(x, gamma, beta, eps, axis):
    other = 1 - axis
    mistakes = [
        ("the unbiased variance (dividing by N-1); divide by N" if axis == 0 else
         "the unbiased variance (dividing by D-1); divide by D",
         gamma * _normalised(x, axis, eps, ddof=1) + beta),
        ("eps added outside the square root; use sqrt(var + eps)",
         gamma * _normalised(x, axis, eps, eps_outside=True) + beta),
        ("statistics over the wrong axis; "
         + ("batch norm averages over the examples (axis 0)" if axis == 0
            else "layer norm averages over the features of each example (axis 1)"),
         gamma * _normalised(x, other, eps) + beta),
        ("the normalised input without gamma and beta", _normalised(x, axis, eps)),
        ("gamma and beta swapped", beta * _normalised(x, axis, eps) + gamma),
        ("eps left out", gamma * _normalised(x, axis, 0.0) + beta),
    ]
    if eps != 1e-5:
        name = "bn_param" if axis == 0 else "ln_param"
        mistakes.append((f'eps = 1e-5: {name}["eps"] is ignored', gamma * _normalised(x, axis, 1e-5) + beta))
    return mistakes


def _test_mode_mistakes(x, gamma, beta, eps, mean, var):
    centred = x - mean
    return [
        ("normalising with the batch statistics; test mode must use the running averages",
         gamma * _normalised(x, 0, eps) + beta),
        ("eps left out", gamma * centred / np.sqrt(var) + beta),
        ("eps added outside the square root", gamma * centred / (np.sqrt(var) + eps) + beta),
        ("gamma and beta swapped", beta * centred / np.sqrt(var + eps) + gamma),
        ('eps = 1e-5: bn_param["eps"] is ignored', gamma * centred / np.sqrt(var + 1e-5) + beta),
    ]


def _dx_scale(x, gamma, dout, eps, axis, dx):
    """The size of the terms dx is made of: max(|dx|, |gamma * dout / std|).

    With few examples (batch norm, small N) dx is a small difference of large terms, so
    correct code can only get it right relative to the terms, not relative to dx itself.
    """
    inv = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    return float(max(np.max(np.abs(dx)), np.max(np.abs(gamma * dout * inv))))


def _gradient_mistakes(x, gamma, dout, eps, axis):
    """Gradients with one typical mistake each, for naming what went wrong."""
    other = 1 - axis
    n, m = x.shape[axis], x.shape[other]
    mean = x.mean(axis=axis, keepdims=True)
    xc = x - mean
    var = (xc**2).mean(axis=axis, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv
    dxhat = dout * gamma
    dvar = -0.5 * inv**3 * (dxhat * xc).sum(axis=axis, keepdims=True)
    dmean = -(dxhat * inv).sum(axis=axis, keepdims=True)

    def closed_form(reduce):
        return inv * (dxhat - reduce(dxhat) - xhat * reduce(dxhat * xhat))

    dx = [
        ("a gradient without the path through the mean", dxhat * inv + dvar * 2 * xc / n),
        ("a gradient without the path through the variance", dxhat * inv + dmean / n),
        ("a gradient that ignores both statistics (dout * gamma / std)", dxhat * inv),
        ("a gradient without the factor gamma",
         inv * (dout - dout.mean(axis=axis, keepdims=True)
                - xhat * (dout * xhat).mean(axis=axis, keepdims=True))),
        ("a gradient whose means run over the wrong axis",
         closed_form(lambda a: a.mean(axis=other, keepdims=True))),
        ("sums where the gradient needs means (a missing 1/" + ("N)" if axis == 0 else "D)"),
         closed_form(lambda a: a.sum(axis=axis, keepdims=True))),
    ]
    if n != m:
        dx.append((f"means divided by {'D' if axis == 0 else 'N'} instead of {'N' if axis == 0 else 'D'}",
                   closed_form(lambda a: a.sum(axis=axis, keepdims=True) / m)))
    dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
    return {
        "dx": dx,
        "dgamma": [
            ("the sum of dout without multiplying by the normalised input xhat; "
             "if you return (dx, dbeta, dgamma), swap them", dbeta),
            ("dout times x instead of dout times xhat", (dout * x).sum(axis=0)),
        ],
        "dbeta": [
            ("the sum of dout * xhat, which is dgamma: are dgamma and dbeta swapped?", dgamma),
            ("the mean of dout instead of its sum", dout.mean(axis=0)),
        ],
    }


# ---------------------------------------------------------------------------------------
# Batch normalization


def _running_problem(param, key, expected, context, diagnoses=()):
    """'' when bn_param[key] holds the expected running average; otherwise why not."""
    if key not in param:
        return (f'{context}: bn_param has no "{key}" after the call; store the updated running '
                "averages back into bn_param.")
    return _compare(f'bn_param["{key}"]', param[key], expected, context, diagnoses)


def _forward(name, student, x, gamma, beta, param, untouched, context):
    """Run a student's forward pass on copies it may not change; returns (out, cache).

    A change to x, gamma or beta is recorded in the `untouched` ledger.
    """
    inputs = [a.copy() for a in (x, gamma, beta)]
    result = _returned_tuple(name, _call(student, name, x, gamma, beta, param, keep=(1,)), 2, ("out", "cache"))
    for label, before, after in zip(("x", "gamma", "beta"), inputs, (x, gamma, beta)):
        if not np.array_equal(before, after):
            untouched.add(f"{context}: {name} changed its input {label}; work on a copy.")
    return result


def check_batchnorm_forward(student, rng, verdict):
    out_train, stats_one, stats_many, test_mode, defaults = (_Ledger() for _ in range(5))
    untouched = _Ledger(needs_evidence=True)
    for (x, gamma, beta), eps, momentum in zip(_cases(rng, BN_SHAPES), EPSILONS, MOMENTA):
        N, D = x.shape
        context = f"train mode, x of shape {_fmt(x.shape)}, eps={eps:g}, momentum={momentum:g}"
        start_mean, start_var = rng.normal(size=D), rng.uniform(0.5, 2.0, size=D)
        param = {"mode": "train", "eps": eps, "momentum": momentum,
                 "running_mean": start_mean.copy(), "running_var": start_var.copy()}
        ref_param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in param.items()}
        try:
            out, _ = _forward("batchnorm_forward", student, x.copy(), gamma.copy(), beta.copy(), param,
                                       untouched, context)
        except StudentError as error:
            for ledger in (out_train, stats_one):
                ledger.add(f"{context}: {error}")
            continue
        expected, _ = reference.batchnorm_forward(x, gamma, beta, ref_param)
        out_train.add(_compare("out", out, expected, context, _forward_mistakes(x, gamma, beta, eps, 0)))
        if _is_result(out, x.shape):
            untouched.saw_result()

        mean, var = x.mean(axis=0), x.var(axis=0)
        for key, start, batch, wrong in (
            ("running_mean", start_mean, mean, []),
            ("running_var", start_var, var, [("the unbiased batch variance in the running average",
                                              momentum * start_var + (1 - momentum) * x.var(axis=0, ddof=1))]),
        ):
            stats_one.add(_running_problem(param, key, ref_param[key], context + " (after one step)", [
                ("momentum applied to the batch statistic instead of the old value: "
                 "use momentum * running + (1 - momentum) * batch", (1 - momentum) * start + momentum * batch),
                ("the old value, never updated", start),
                ("the batch statistic alone, without the running average", batch),
                ('momentum = 0.9: bn_param["momentum"] is ignored', 0.9 * start + 0.1 * batch),
            ] + wrong))

    # several steps from zeros with the default momentum, then test mode
    for (x, gamma, beta), eps in zip(_cases(rng, [(16, 7), (9, 9)]), (1e-3, 3e-4)):
        N, D = x.shape
        context = f"4 train steps from zeros, x of shape {_fmt(x.shape)}, eps={eps:g}"
        param, ref_param = {"mode": "train", "eps": eps}, {"mode": "train", "eps": eps}
        batches = [x + rng.normal(scale=0.5, size=x.shape) for _ in range(4)]
        try:
            for batch in batches:
                _forward("batchnorm_forward", student, batch.copy(), gamma.copy(), beta.copy(), param, untouched, context)
                reference.batchnorm_forward(batch, gamma, beta, ref_param)
        except StudentError as error:
            stats_many.add(f"{context}: {error}")
            test_mode.add(f"test mode could not be checked: {error}")
            continue
        for key in ("running_mean", "running_var"):
            stats_many.add(_running_problem(param, key, ref_param[key], context))

        # test mode with known running statistics: must use them and change nothing
        context = f"test mode, x of shape {_fmt(x.shape)}, eps={eps:g}"
        running_mean, running_var = rng.normal(size=D), rng.uniform(0.1, 3.0, size=D)
        param = {"mode": "test", "eps": eps, "running_mean": running_mean.copy(),
                 "running_var": running_var.copy()}
        try:
            out, _ = _returned_tuple("batchnorm_forward", _call(
                student, "batchnorm_forward", x.copy(), gamma.copy(), beta.copy(), param, keep=(1,)),
                2, ("out", "cache"))
        except StudentError as error:
            test_mode.add(f"{context}: {error}")
            continue
        expected, _ = reference.batchnorm_forward(x, gamma, beta, {
            "mode": "test", "eps": eps, "running_mean": running_mean, "running_var": running_var})
        test_mode.add(_compare("out", out, expected, context,
                               _test_mode_mistakes(x, gamma, beta, eps, running_mean, running_var)))
        for key, start in (("running_mean", running_mean), ("running_var", running_var)):
            after = param.get(key)
            if not (isinstance(after, np.ndarray) and np.array_equal(after, start)):
                test_mode.add(f'{context}: bn_param["{key}"] changed; test mode must not update '
                              "the running averages.")

    # the defaults: bn_param with only the mode
    x, gamma, beta = next(_cases(rng, [(10, 4)], small_variance=False))
    param, ref_param = {"mode": "train"}, {"mode": "train"}
    context = 'bn_param = {"mode": "train"} (defaults: eps=1e-5, momentum=0.9, zero running averages)'
    try:
        out, _ = _forward("batchnorm_forward", student, x.copy(), gamma.copy(), beta.copy(), param, untouched, context)
        expected, _ = reference.batchnorm_forward(x, gamma, beta, ref_param)
        defaults.add(_compare("out", out, expected, context))
        for key in ("running_mean", "running_var"):
            defaults.add(_running_problem(param, key, ref_param[key], context))
    except StudentError as error:
        defaults.add(f"{context}: {error}")

    verdict.checks += [
        out_train.result("train mode: output (several shapes, N == D, non-default eps)", 3.5),
        stats_one.result("train mode: running averages after one step (non-default momentum)", 2.0),
        stats_many.result("train mode: running averages after several steps from zeros", 1.5),
        test_mode.result("test mode: uses the running averages and updates nothing", 1.5),
        defaults.result("defaults: eps, momentum and zero running averages", 1.0),
        untouched.result("input arrays are left unchanged", 0.5),
    ]


def _check_backward(name, forward, axis, cases, param, student, verdict):
    """Grade a backward function through the cache of the student's own forward pass.

    Inputs:
    - name, forward: the backward function and the forward function whose cache it takes
    - axis: the axis the statistics run over (0: batch norm, 1: layer norm)
    - cases: (x, gamma, beta, eps, dout) tuples
    - param: function eps -> the forward's parameter dict
    """
    reference_forward = getattr(reference, forward)
    reference_backward = getattr(reference, "layernorm_backward" if axis else "batchnorm_backward_alt")
    grads = {key: _Ledger() for key in ("dx", "dgamma", "dbeta")}
    untouched, forward_notes = _Ledger(needs_evidence=True), _Ledger()
    for x, gamma, beta, eps, dout in cases:
        context = f"x of shape {_fmt(x.shape)}, eps={eps:g}"
        ref_out, ref_cache = reference_forward(x, gamma, beta, param(eps))
        expected = dict(zip(("dx", "dgamma", "dbeta"), reference_backward(dout, ref_cache)))
        try:
            out, cache = _returned_tuple(forward, _call(student, forward, x.copy(), gamma.copy(), beta.copy(),
                                                        param(eps), keep=(1,)), 2, ("out", "cache"))
        except StudentError as error:
            for ledger in grads.values():
                ledger.add(f"{context}: {name} needs the cache of your {forward}, which failed: {error}")
            continue
        if _array_problem("out", out, x.shape) or rel_error(out, ref_out) > RTOL:
            forward_notes.add(f"Your {forward}'s output is wrong too; the backward pass is graded "
                              "through your forward's cache, so fix the forward first.")
        dout_before = dout.copy()
        try:
            result = _returned_tuple(name, _call(student, name, dout, cache), 3, ("dx", "dgamma", "dbeta"))
        except StudentError as error:
            for ledger in grads.values():
                ledger.add(f"{context}: {error}")
            continue
        if not np.array_equal(dout, dout_before):
            untouched.add(f"{context}: {name} changed its input dout; work on a copy.")
        if _is_result(result[0], x.shape):
            untouched.saw_result()
        mistakes = _gradient_mistakes(x, gamma, dout_before, eps, axis)
        scales = {"dx": _dx_scale(x, gamma, dout_before, eps, axis, expected["dx"])}
        for key, value in zip(("dx", "dgamma", "dbeta"), result):
            grads[key].add(_compare(key, value, expected[key], context, mistakes[key], scales.get(key)))
    verdict.note = forward_notes.failures[0] if forward_notes.failures else ""
    weights = {"dx": 0.5, "dgamma": 0.25, "dbeta": 0.15}
    verdict.checks += [grads[key].result(f"{key} (several shapes, N == D)", w) for key, w in weights.items()]
    verdict.checks.append(untouched.result("dout is left unchanged", 0.1))


def _bn_backward_cases(rng):
    return [(x, gamma, beta, eps, rng.normal(size=x.shape))
            for (x, gamma, beta), eps in zip(_cases(rng, BN_SHAPES), EPSILONS)]


def _check_bn_backward(name, student, rng, verdict):
    _check_backward(name, "batchnorm_forward", 0, _bn_backward_cases(rng),
                    lambda eps: {"mode": "train", "eps": eps}, student, verdict)


def check_batchnorm_backward(student, rng, verdict):
    _check_bn_backward("batchnorm_backward", student, rng, verdict)


def check_batchnorm_backward_alt(student, rng, verdict):
    _check_bn_backward("batchnorm_backward_alt", student, rng, verdict)


# ---------------------------------------------------------------------------------------
# Layer normalization


def _ln_cases(rng, shapes):
    """Like _cases, but each example has its own scale (some rows of small variance)."""
    for x, gamma, beta in _cases(rng, shapes, small_variance=False):
        row_scales = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=(x.shape[0], 1)))
        row_scales[rng.integers(x.shape[0])] = 0.005
        x = rng.normal(size=x.shape) * row_scales + rng.normal(scale=3.0, size=(x.shape[0], 1))
        yield x, gamma, beta


def check_layernorm_forward(student, rng, verdict):
    outputs, defaults, untouched = _Ledger(), _Ledger(), _Ledger(needs_evidence=True)
    for (x, gamma, beta), eps in zip(_ln_cases(rng, LN_SHAPES), EPSILONS):
        context = f"x of shape {_fmt(x.shape)}, eps={eps:g}"
        try:
            out, _ = _forward("layernorm_forward", student, x.copy(), gamma.copy(), beta.copy(), {"eps": eps}, untouched, context)
        except StudentError as error:
            outputs.add(f"{context}: {error}")
            continue
        expected, _ = reference.layernorm_forward(x, gamma, beta, {"eps": eps})
        outputs.add(_compare("out", out, expected, context, _forward_mistakes(x, gamma, beta, eps, 1)))
        if _is_result(out, x.shape):
            untouched.saw_result()

    x, gamma, beta = next(_ln_cases(rng, [(7, 10)]))
    context = "ln_param = {} (default eps=1e-5)"
    try:
        out, _ = _forward("layernorm_forward", student, x.copy(), gamma.copy(), beta.copy(), {}, untouched, context)
        expected, _ = reference.layernorm_forward(x, gamma, beta, {})
        defaults.add(_compare("out", out, expected, context))
    except StudentError as error:
        defaults.add(f"{context}: {error}")

    verdict.checks += [
        outputs.result("output (several shapes, N == D, non-default eps, small-variance examples)", 5.5),
        defaults.result("defaults: an empty ln_param", 1.5),
        untouched.result("input arrays are left unchanged", 1.0),
    ]


def check_layernorm_backward(student, rng, verdict):
    cases = [(x, gamma, beta, eps, rng.normal(size=x.shape))
             for (x, gamma, beta), eps in zip(_ln_cases(rng, LN_SHAPES), EPSILONS)]
    _check_backward("layernorm_backward", "layernorm_forward", 1, cases, lambda eps: {"eps": eps},
                    student, verdict)


# ---------------------------------------------------------------------------------------
# The preprocessing analogy

ANALOGY = {"bn_analogy": 3, "ln_analogy": 2}


def _option(student, name):
    try:
        value = student.value(name)
    except (StudentError, GradingAborted):
        raise
    except Exception as error:
        return None, f"{name} is not set ({error})."
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 4:
        return None, f"{name} must be one of the option numbers 1, 2, 3, 4; it is {value!r}."
    return int(value), ""


def check_preprocessing_analogy(student, rng, verdict):
    bn, bn_problem = _option(student, "bn_analogy")
    ln, ln_problem = _option(student, "ln_analogy")
    hints = {
        ("bn_analogy", 2): "Option 2 uses the pixels of one image only; batch norm's statistics come "
                           "from many examples.",
        ("ln_analogy", 3): "Option 3 uses statistics over the whole data set (many examples); that is "
                           "batch norm's idea, not layer norm's.",
        ("ln_analogy", 1): "Option 1 normalises each row of pixels separately: a group of features, "
                           "which is group norm's idea. Layer norm uses all features of one example.",
        ("bn_analogy", 4): "Option 4 is a fixed threshold: no statistics at all.",
        ("ln_analogy", 4): "Option 4 is a fixed threshold: no statistics at all.",
        ("bn_analogy", 1): "Option 1 uses one image only; batch norm's statistics come from many examples.",
    }
    for name, value, problem in (("bn_analogy", bn, bn_problem), ("ln_analogy", ln, ln_problem)):
        if problem:
            message = problem
        elif value == ANALOGY[name]:
            message = ""
        else:
            message = hints.get((name, value), f"{name} = {value} is not the closest analogy.")
        verdict.checks.append(Check(f"{name}: the option most analogous to "
                                    f"{'batch' if name == 'bn_analogy' else 'layer'} normalization",
                                    1.0, not message, message))


# ---------------------------------------------------------------------------------------
# The batch-size experiment


REPLAY_BACKWARD = "batchnorm_backward_alt"  # the experiment trains with the closed form
REPLAY_SEED = 20261218


def warm_up():
    """Compute what every student's grading needs once (the reference replays)."""
    for normalization in ("batchnorm", "layernorm"):
        _reference_replay(normalization, REPLAY_SEED)


def _replay_problem(name, got, expected, keys, hint):
    """'' when the replay's arrays under keys agree with the reference run; otherwise why not."""
    if not isinstance(got, dict):
        return f"{name}: the replay returned {type(got).__name__}, not its results."
    for key in keys:
        value = got.get(key)
        if not isinstance(value, np.ndarray) or value.shape != expected[key].shape:
            return f"{name}: the replay's {key} is missing or has the wrong shape."
        if not np.all(np.isfinite(value)):
            first = int(np.flatnonzero(~np.isfinite(value))[0])
            return f"{name}: {key} became NaN or inf (at entry {first}). {hint}"
        error = rel_error(value.astype(float), expected[key].astype(float))
        if error > RTOL:
            where = int(np.argmax(np.abs(value - expected[key]) > RTOL * max(1.0, np.abs(expected[key]).max())))
            return (f"{name}: {key} differs from a correct implementation's (relative error {error:.1e}, "
                    f"first at entry {where}). {hint}")
    return ""


@functools.lru_cache(maxsize=16)
def _reference_replay(normalization, seed):
    experiment = course.support_module("experiment")
    return experiment.replay(experiment.NormFunctions.collect(reference, REPLAY_BACKWARD), normalization,
                             seed=seed)


def check_batchsize_training(student, rng, verdict):
    """Replay a short training run with the student's functions against the reference.

    The replay's seed is the assignment's (not the student's): its numbers are only ever seen by
    the grader, and one reference run serves the whole class.
    """
    seed = REPLAY_SEED
    runs = (
        ("batch norm", "batchnorm", 2.0, 1.5,
         "The training run uses your batchnorm_forward (train mode) and batchnorm_backward_alt.",
         "Validation runs in test mode: it uses the running averages your batchnorm_forward keeps "
         "in bn_param."),
        ("layer norm", "layernorm", 1.5, 1.0,
         "The training run uses your layernorm_forward and layernorm_backward.",
         "Validation uses your layernorm_forward on each example."),
    )
    for name, normalization, w_train, w_eval, train_hint, eval_hint in runs:
        expected = _reference_replay(normalization, seed)
        try:
            got = student.replay(normalization, REPLAY_BACKWARD, seed)
        except GradingAborted:
            raise
        except Exception as error:
            detail = str(error) if isinstance(error, StudentError) else f"{type(error).__name__}: {error}"
            training = evaluation = f"{name}: the training run failed: {detail}. {train_hint}"
        else:
            training = _replay_problem(f"{name}, 200 updates", got, expected, ("loss",), train_hint)
            evaluation = _replay_problem(f"{name}, test-mode evaluation", got, expected,
                                         ("val_loss", "val_acc", "train_acc"), eval_hint)
        verdict.checks += [
            Check(f"{name} inside a training run: the losses of every update", w_train, not training, training),
            Check(f"{name} after training: test-mode validation and training accuracy", w_eval,
                  not evaluation, evaluation),
        ]


def _answer_check(grade_id):
    """The check of one autograded conclusion of the experiment."""

    def check(student, rng, verdict):
        from autograder import batchsize

        try:
            value = student.value(grade_id)
        except (StudentError, GradingAborted):
            raise
        except Exception as error:
            problem = f"{grade_id} is not set ({error})."
        else:
            problem = batchsize.answer_problem(grade_id, value)
        question = batchsize.QUESTIONS[grade_id]
        verdict.checks.append(Check(question.text, 1.0, problem is None, problem or ""))

    return check


CHECKS = {
    "batchnorm_forward": check_batchnorm_forward,
    "batchnorm_backward": check_batchnorm_backward,
    "batchnorm_backward_alt": check_batchnorm_backward_alt,
    "layernorm_forward": check_layernorm_forward,
    "layernorm_backward": check_layernorm_backward,
    "preprocessing_analogy": check_preprocessing_analogy,
    "batchsize_training": check_batchsize_training,
    **{grade_id: _answer_check(grade_id) for grade_id in (
        "batchsize_most_sensitive", "batchsize_layernorm_like", "batchsize_bn_mode", "batchsize_seed_claim")},
}
