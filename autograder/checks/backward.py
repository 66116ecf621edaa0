"""Hidden checks of the backward passes, graded through the cache of the student's own forward."""
import numpy as np

from autograder import reference
from autograder.calls import MOVED
from autograder.checks.compare import (BN_SHAPES, EPSILONS, LN_SHAPES, RTOL, array_problem, call, cases,
                                       compare, fmt, is_result, rel_error, returned_tuple)
from autograder.checks.forward import ln_cases
from autograder.checks.mistakes import dx_scale, gradient_mistakes
from autograder.checks.verdicts import Check, Ledger, StudentError


def _check_backward(name, forward, axis, cases, param, student, verdict, rng):
    """Grade a backward function through the cache of the student's own forward pass.

    Inputs:
    - name, forward: the backward function and the forward function whose cache it takes
    - axis: the axis the statistics run over (0: batch norm, 1: layer norm)
    - cases: (x, gamma, beta, eps, dout) tuples
    - param: function eps -> the forward's parameter dict
    - rng: for the inputs of the large batch (numerical_problem)
    """
    reference_forward = getattr(reference, forward)
    reference_backward = getattr(reference, "layernorm_backward" if axis else "batchnorm_backward_alt")
    grads = {key: Ledger() for key in ("dx", "dgamma", "dbeta")}
    untouched, forward_notes = Ledger(needs_evidence=True), Ledger()
    shapes = Ledger(needs_evidence=True)
    for x, gamma, beta, eps, dout in cases:
        context = f"x of shape {fmt(x.shape)}, eps={eps:g}"
        ref_out, ref_cache = reference_forward(x, gamma, beta, param(eps))
        expected = dict(zip(("dx", "dgamma", "dbeta"), reference_backward(dout, ref_cache)))
        try:
            out, cache = returned_tuple(forward, call(student, forward, x.copy(), gamma.copy(), beta.copy(),
                                                        param(eps), keep=(1,)), 2, ("out", "cache"))
        except StudentError as error:
            for ledger in grads.values():
                ledger.add(f"{context}: {name} needs the cache of your {forward}, which failed: {error}")
            continue
        if array_problem("out", out, x.shape) or rel_error(out, ref_out) > RTOL:
            forward_notes.add(f"Your {forward} gives a wrong output (see that part), and this part is "
                              "graded through its cache, so the errors below may all come from there: fix "
                              f"{forward} first, then look at this part again.")
        dout_before = dout.copy()
        try:
            result = returned_tuple(name, call(student, name, dout, cache), 3, ("dx", "dgamma", "dbeta"))
        except StudentError as error:
            for ledger in grads.values():
                ledger.add(f"{context}: {error}")
            continue
        if not np.array_equal(dout, dout_before):
            untouched.add(f"{context}: {name} changed its input dout; work on a copy.")
        if is_result(result[0], x.shape):
            untouched.saw_result()
            shapes.saw_result()
        mistakes = gradient_mistakes(x, gamma, dout_before, eps, axis)
        scales = {"dx": dx_scale(x, gamma, dout_before, eps, axis, expected["dx"])}
        for key, value in zip(("dx", "dgamma", "dbeta"), result):
            grads[key].add(compare(key, value, expected[key], context, mistakes[key], scales.get(key), shapes))
    verdict.note = forward_notes.failures[0] if forward_notes.failures else ""
    # a pass already seen evaluating its forward at moved inputs needs no large batch to tell
    problem, message = "", ""
    if forward + MOVED not in student.called:
        problem, message = numerical_problem(name, forward, axis, param, student, rng)
    if not problem and forward + MOVED in student.called:
        problem = (f"{name} called {forward} on inputs other than the ones it differentiates at: that "
                   "is numerical differentiation, not the derivation this part asks for, and it earns none "
                   "of this part's points. (A backward pass may recompute its cache by calling "
                   f"{forward} on the cached x itself.)")
    if problem:
        verdict.withheld = problem
        student.facts.setdefault("numerical", []).append(name)
    weights = {"dx": 0.5, "dgamma": 0.25, "dbeta": 0.15}
    verdict.checks += [grads[key].result(f"{key} (several shapes, N == D)", w) for key, w in weights.items()]
    verdict.checks.append(untouched.result("dout is left unchanged", 0.05))
    verdict.checks.append(shapes.result("shapes of dx, dgamma and dbeta", 0.05))
    verdict.checks.append(Check(f"a large batch {fmt(LARGE[axis])}: finishes in time, right result", 0.05,
                                not problem and not message, problem or message))


# A batch so large along the statistics' axis that differencing the forward pass one row (batch
# norm) or one column (layer norm) at a time needs that many forward passes over all of it, while
# an analytic backward pass, even one with Python loops over rows or features, needs a few passes.
# Measured in CPU seconds, one thread (benchmarks/numerical_backward_cost.py --part cost): the
# slowest honest backward (a Python loop over rows or features) 1.2 s for batch norm on (50000, 4)
# and 0.85 s for layer norm on (4, 50000); the cheapest per-row / per-column differencing about
# 216 s and 174 s (extrapolated from smaller batches). A limit of 10 s leaves 8x and 17x on either side.
LARGE = {0: (50_000, 4), 1: (4, 50_000)}
COST_LIMIT = 10.0  # CPU seconds for the backward call on LARGE (wall time backs it up at 4x)


def numerical_problem(name, forward, axis, param, student, rng):
    """Run the backward pass on a LARGE batch; '' when it finishes in time, else why it earns nothing.

    Returns (problem, message): problem is set when the pass did not finish (it then earns no
    points); message is set when it finished with a wrong result or failed otherwise.
    """
    shape = LARGE[axis]
    x = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=(1, shape[1]) if axis == 0 else (shape[0], 1))
    gamma, beta = 1.0 + 0.3 * rng.normal(size=shape[1]), 0.3 * rng.normal(size=shape[1])
    dout = rng.normal(size=shape)
    context = f"a large batch, x of shape {fmt(shape)}"
    try:
        _, cache = returned_tuple(forward, call(student, forward, x.copy(), gamma.copy(), beta.copy(), param(1e-5),
                                                keep=(1,)), 2, ("out", "cache"))
        result = returned_tuple(name, call(student, name, dout, cache, timeout=COST_LIMIT), 3,
                                ("dx", "dgamma", "dbeta"))
    except StudentError as error:
        if "did not finish within" in str(error) or "stopped earlier for running too long" in str(error):
            return (f"{name} {str(error).split(' ', 1)[1]} on {context}, where an analytic backward pass (even one "
                    "with Python loops over rows or features) takes about a second. A backward pass that "
                    "differentiates the forward pass numerically (one forward pass per element, row or column) "
                    "takes minutes there, and earns none of this part's points."), ""
        return "", f"{context}: {error}"
    _, ref_cache = getattr(reference, forward)(x, gamma, beta, param(1e-5))
    backward = reference.layernorm_backward if axis else reference.batchnorm_backward_alt
    expected = backward(dout, ref_cache)
    scale = dx_scale(x, gamma, dout, 1e-5, axis, expected[0])
    problems = [compare(key, value, want, context, scale=scale if key == "dx" else None)
                for key, value, want in zip(("dx", "dgamma", "dbeta"), result, expected)]
    return "", "\n".join(p for p in problems if p)


def _bn_backward_cases(rng):
    return [(x, gamma, beta, eps, rng.normal(size=x.shape))
            for (x, gamma, beta), eps in zip(cases(rng, BN_SHAPES), EPSILONS)]


def _check_bn_backward(name, student, rng, verdict):
    _check_backward(name, "batchnorm_forward", 0, _bn_backward_cases(rng),
                    lambda eps: {"mode": "train", "eps": eps}, student, verdict, rng)


def check_batchnorm_backward(student, rng, verdict):
    _check_bn_backward("batchnorm_backward", student, rng, verdict)


def check_batchnorm_backward_alt(student, rng, verdict):
    _check_bn_backward("batchnorm_backward_alt", student, rng, verdict)
    problem = student.facts.get("closed_form_problem") or (
        "batchnorm_backward_alt calls batchnorm_backward" if "batchnorm_backward" in student.called else "")
    if problem:
        verdict.withheld = (f"{problem}. This part asks for the simplified closed form of section 2.3, "
                            "derived on paper; the graph version earns its points in batchnorm_backward.")


def check_layernorm_backward(student, rng, verdict):
    cases = [(x, gamma, beta, eps, rng.normal(size=x.shape))
             for (x, gamma, beta), eps in zip(ln_cases(rng, LN_SHAPES), EPSILONS)]
    _check_backward("layernorm_backward", "layernorm_forward", 1, cases, lambda eps: {"eps": eps},
                    student, verdict, rng)
