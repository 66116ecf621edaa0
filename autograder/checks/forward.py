"""Hidden checks of the forward passes: batch norm (train and test mode, running averages)
and layer norm."""
import numpy as np

from autograder import reference
from autograder.checks.compare import (BN_SHAPES, EPSILONS, LN_SHAPES, MOMENTA, call, cases, compare, fmt,
                                       is_result, returned_tuple)
from autograder.checks.mistakes import forward_mistakes, running_mistakes, test_mode_mistakes
from autograder.checks.verdicts import Ledger, StudentError


def running_problem(param, key, expected, context, diagnoses=(), shapes=None):
    """'' when bn_param[key] holds the expected running average; otherwise why not."""
    if key not in param:
        return (f'{context}: bn_param has no "{key}" after the call; store the updated running '
                "averages back into bn_param.")
    return compare(f'bn_param["{key}"]', param[key], expected, context, diagnoses, shapes=shapes, elementwise=True)


def run_forward(name, student, x, gamma, beta, param, untouched, context):
    """Run a student's forward pass on copies it may not change; returns (out, cache).

    A change to x, gamma or beta is recorded in the `untouched` ledger.
    """
    inputs = [a.copy() for a in (x, gamma, beta)]
    result = returned_tuple(name, call(student, name, x, gamma, beta, param, keep=(1,)), 2, ("out", "cache"))
    for label, before, after in zip(("x", "gamma", "beta"), inputs, (x, gamma, beta)):
        if not np.array_equal(before, after):
            untouched.add(f"{context}: {name} changed its input {label}; work on a copy.")
    return result


def _batch_statistics(batches):
    """(means, biased variances, unbiased variances) of every batch, by feature."""
    return ([b.mean(axis=0) for b in batches], [b.var(axis=0) for b in batches],
            [b.var(axis=0, ddof=1) for b in batches])


def _running_checks(ledger, param, ref_param, starts, batches, momentum, eps, context, shapes):
    """Compare bn_param's running averages after the batches with the reference's, naming known
    mistakes (autograder.checks.mistakes.RUNNING_MISTAKES)."""
    means, variances, unbiased = _batch_statistics(batches)
    for key, start, statistics in (("running_mean", starts[0], means), ("running_var", starts[1], variances)):
        diagnoses = running_mistakes(start, statistics, momentum, eps, key,
                                     unbiased if key == "running_var" else None)
        ledger.add(running_problem(param, key, ref_param[key], context, diagnoses, shapes))


def check_batchnorm_forward(student, rng, verdict):
    out_train, stats_one, stats_many, test_mode, defaults = (Ledger() for _ in range(5))
    untouched, shapes = Ledger(needs_evidence=True), Ledger(needs_evidence=True)
    for (x, gamma, beta), eps, momentum in zip(cases(rng, BN_SHAPES), EPSILONS, MOMENTA):
        N, D = x.shape
        context = f"train mode, x of shape {fmt(x.shape)}, eps={eps:g}, momentum={momentum:g}"
        start_mean, start_var = rng.normal(size=D), rng.uniform(0.5, 2.0, size=D)
        param = {"mode": "train", "eps": eps, "momentum": momentum,
                 "running_mean": start_mean.copy(), "running_var": start_var.copy()}
        ref_param = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in param.items()}
        try:
            out, _ = run_forward("batchnorm_forward", student, x.copy(), gamma.copy(), beta.copy(), param,
                                 untouched, context)
        except StudentError as error:
            for ledger in (out_train, stats_one):
                ledger.add(f"{context}: {error}")
            continue
        expected, _ = reference.batchnorm_forward(x, gamma, beta, ref_param)
        out_train.add(compare("out", out, expected, context, forward_mistakes(x, gamma, beta, eps, 0), shapes=shapes))
        if is_result(out, x.shape):
            untouched.saw_result()
            shapes.saw_result()
        _running_checks(stats_one, param, ref_param, (start_mean, start_var), [x], momentum, eps,
                        context + " (after one step)", shapes)

    # several steps from zeros with the default momentum, then test mode
    for (x, gamma, beta), eps in zip(cases(rng, [(16, 7), (9, 9)]), (1e-3, 3e-4)):
        N, D = x.shape
        context = f"4 train steps from zeros, x of shape {fmt(x.shape)}, eps={eps:g}"
        param, ref_param = {"mode": "train", "eps": eps}, {"mode": "train", "eps": eps}
        batches = [x + rng.normal(scale=0.5, size=x.shape) for _ in range(4)]
        try:
            for batch in batches:
                run_forward("batchnorm_forward", student, batch.copy(), gamma.copy(), beta.copy(), param,
                            untouched, context)
                reference.batchnorm_forward(batch, gamma, beta, ref_param)
        except StudentError as error:
            stats_many.add(f"{context}: {error}")
            test_mode.add(f"test mode could not be checked: {error}")
            continue
        _running_checks(stats_many, param, ref_param, (np.zeros(D), np.zeros(D)), batches, 0.9, eps, context,
                        shapes)

        # test mode with known running statistics: must use them and change nothing
        context = f"test mode, x of shape {fmt(x.shape)}, eps={eps:g}"
        running_mean, running_var = rng.normal(size=D), rng.uniform(0.1, 3.0, size=D)
        param = {"mode": "test", "eps": eps, "running_mean": running_mean.copy(),
                 "running_var": running_var.copy()}
        try:
            out, _ = returned_tuple("batchnorm_forward", call(
                student, "batchnorm_forward", x.copy(), gamma.copy(), beta.copy(), param, keep=(1,)),
                2, ("out", "cache"))
        except StudentError as error:
            test_mode.add(f"{context}: {error}")
            continue
        expected, _ = reference.batchnorm_forward(x, gamma, beta, {
            "mode": "test", "eps": eps, "running_mean": running_mean, "running_var": running_var})
        test_mode.add(compare("out", out, expected, context,
                              test_mode_mistakes(x, gamma, beta, eps, running_mean, running_var), shapes=shapes))
        for key, start in (("running_mean", running_mean), ("running_var", running_var)):
            after = param.get(key)
            if not (isinstance(after, np.ndarray) and after.size == start.size
                    and np.array_equal(after.reshape(start.shape), start)):
                test_mode.add(f'{context}: bn_param["{key}"] changed; test mode must not update '
                              "the running averages.")

    # the defaults: bn_param with only the mode
    x, gamma, beta = next(cases(rng, [(10, 4)]))  # a feature of tiny variance: every eps mistake shows
    param, ref_param = {"mode": "train"}, {"mode": "train"}
    context = 'bn_param = {"mode": "train"} (defaults: eps=1e-5, momentum=0.9, zero running averages)'
    try:
        out, _ = run_forward("batchnorm_forward", student, x.copy(), gamma.copy(), beta.copy(), param, untouched,
                             context)
        expected, _ = reference.batchnorm_forward(x, gamma, beta, ref_param)
        defaults.add(compare("out", out, expected, context, forward_mistakes(x, gamma, beta, 1e-5, 0),
                             shapes=shapes))
        D = x.shape[1]
        _running_checks(defaults, param, ref_param, (np.zeros(D), np.zeros(D)), [x], 0.9, 1e-5, context, shapes)
    except StudentError as error:
        defaults.add(f"{context}: {error}")

    verdict.checks += [
        out_train.result("train mode: output (several shapes, N == D, non-default eps)", 3.0),
        stats_one.result("train mode: running averages after one step (non-default momentum)", 2.0),
        stats_many.result("train mode: running averages after several steps from zeros", 1.5),
        test_mode.result("test mode: uses the running averages and updates nothing", 1.5),
        defaults.result("defaults: eps, momentum and zero running averages", 1.0),
        untouched.result("input arrays are left unchanged", 0.5),
        shapes.result("shapes of out and the running averages", 0.5),
    ]


def ln_cases(rng, shapes):
    """Like cases, but each example has its own scale (some rows of small variance)."""
    for x, gamma, beta in cases(rng, shapes, small_variance=False):
        row_scales = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=(x.shape[0], 1)))
        row_scales[rng.integers(x.shape[0])] = 0.005
        x = rng.normal(size=x.shape) * row_scales + rng.normal(scale=3.0, size=(x.shape[0], 1))
        yield x, gamma, beta


def check_layernorm_forward(student, rng, verdict):
    outputs, defaults = Ledger(), Ledger()
    untouched, shapes = Ledger(needs_evidence=True), Ledger(needs_evidence=True)
    for (x, gamma, beta), eps in zip(ln_cases(rng, LN_SHAPES), EPSILONS):
        context = f"x of shape {fmt(x.shape)}, eps={eps:g}"
        try:
            out, _ = run_forward("layernorm_forward", student, x.copy(), gamma.copy(), beta.copy(), {"eps": eps}, untouched, context)
        except StudentError as error:
            outputs.add(f"{context}: {error}")
            continue
        expected, _ = reference.layernorm_forward(x, gamma, beta, {"eps": eps})
        outputs.add(compare("out", out, expected, context, forward_mistakes(x, gamma, beta, eps, 1), shapes=shapes))
        if is_result(out, x.shape):
            untouched.saw_result()
            shapes.saw_result()

    x, gamma, beta = next(ln_cases(rng, [(7, 10)]))
    context = "ln_param = {} (default eps=1e-5)"
    try:
        out, _ = run_forward("layernorm_forward", student, x.copy(), gamma.copy(), beta.copy(), {}, untouched, context)
        expected, _ = reference.layernorm_forward(x, gamma, beta, {})
        defaults.add(compare("out", out, expected, context, forward_mistakes(x, gamma, beta, 1e-5, 1),
                             shapes=shapes))
    except StudentError as error:
        defaults.add(f"{context}: {error}")

    verdict.checks += [
        outputs.result("output (several shapes, N == D, non-default eps, small-variance examples)", 5.0),
        defaults.result("defaults: an empty ln_param", 1.5),
        untouched.result("input arrays are left unchanged", 1.0),
        shapes.result("shape of out", 0.5),
    ]
