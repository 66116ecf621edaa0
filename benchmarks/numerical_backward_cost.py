"""Can the hidden tests tell a derived backward pass from a numerically differentiated one?

    .venv/bin/python benchmarks/numerical_backward_cost.py [--part cost|precision|steps|all]
        [--cap 20] [--repeats 3] [--seeds 100] [--sizes 20000,50000,100000,200000] [--widths 1,2,4]
        [--only name,name]

Loads every corpus entry the way grading sees it (autograder.corpus.parse, then the solution
cells of corpus.notebook(entry) executed in one namespace): the reference, the honest entries of
autograder/corpus/valid/ and the numerical-differentiation entries of autograder/corpus/cheats/,
plus one honest variant defined here (explicit_jacobian: dx = J^T dout with the N x N Jacobian
of each feature, O(N^2 D) time and O(N^2) memory).

cost: CPU seconds (wall seconds in parentheses) of one forward (train) call and of each
    backward call (for the cheats only batchnorm_backward: their alt differences the same way),
    for batch norm on tall inputs (N examples, D features) and layer norm on wide ones (the
    transposed shape: D examples, N features). A call is cut off after --cap CPU seconds, and a
    size whose extrapolated time exceeds 1.5 cap is not run; such calls print ">cap" with an
    estimate from t = a N + b N^2 fitted through the two largest sizes that finished (per-row
    differencing is also run at N = 1000 .. 10000 for that; those points are printed). Then, per
    shape: the slowest honest call (reference and the slow valid entries), the fastest per-row /
    per-column / per-element differencing backward call, their ratio, and the per-call limit at
    their geometric mean with the margin it leaves on both sides. Directional and complex-step
    differencing cost a few forward calls; they are listed for comparison. CPU clocks here tick
    in steps of a few milliseconds, so small CPU times read 0.
precision: the error of dx against a long-double evaluation of the closed form, normwise
    relative to the size of the terms dx is made of, max|dx - dx_true| / max(|dx_true|,
    |gamma*dout/std|), worst of the shapes of a seed, max and median over --seeds seeds, for
    each input family (see _family_cases: centred, outliers, heavy, standard, grader, offset,
    dout_range, dout_spiky); the same per column (batch norm) / per example (layer norm); the
    error of dgamma relative to max_j sum_i |dout * xhat|; and how many times a backward pass
    called the notebook's forward function by name. Then, per family, the worst honest error
    against each differencing entry (median and min over seeds).
steps: the best a determined student can do with directional differencing: central differences
    of order 2, 4, 6 and 8 along dout (x centred first, direction scaled per column / example,
    step scanned over 1e-7 .. 0.3 standard deviations), order 2 and 4 in long double, and the
    complex step, on the centred family; then each tuned on the outliers family.

Single process, one thread, no pools. Prints numbers; asserts nothing.
"""
import os

for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import argparse  # noqa: E402
import math  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import corpus, reference  # noqa: E402
from autograder.calls import call_quietly  # noqa: E402

FUNCTIONS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
             "layernorm_forward", "layernorm_backward")
SLOW_HONEST = ("loop_over_examples", "loop_over_features", "double_loop_scalars")
# differencing that costs O(N) (batch norm) / O(D) (layer norm) forward calls or more
PER_ROW_CHEATS = ("fd_forward_elementwise", "central_elementwise_tiny_step", "central_rowwise",
                  "fourth_order_rowwise", "central_rowwise_batched", "fd_rowwise_batched")
# differencing along dout: a few forward calls, as cheap as an analytic backward
DIRECTIONAL_CHEATS = ("directional_central", "directional_fourth_order", "directional_sixth_order",
                      "directional_long_double", "complex_step")
PROBE_SIZES = (1000, 2000, 5000, 10000)


@dataclass
class Variant:
    name: str
    kind: str          # "reference", "valid", "cheats", "extra"
    namespace: dict

    def function(self, name):
        return self.namespace[name]


def load_entry(path, kind):
    """The namespace the notebook of a corpus entry ends with (solution cells only)."""
    entry = corpus.parse(path, kind)
    namespace = {"np": np}
    for cell in corpus.notebook(entry).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            exec(compile(cell.source, f"<{entry.name}:{meta.get('grade_id')}>", "exec"), namespace)
    return Variant(entry.name, kind, namespace)


def _jacobian_backward(dout, cache):
    """Honest but O(N^2) per feature: dx[:, j] = J_j^T dout[:, j] with the explicit Jacobian."""
    xc, _, inv_std, gamma = cache
    N, D = dout.shape
    xhat = xc * inv_std
    dx = np.empty_like(dout)
    for j in range(D):
        jac = (np.eye(N) - 1.0 / N - np.outer(xhat[:, j], xhat[:, j]) / N) * (gamma[j] * inv_std[j])
        dx[:, j] = jac.T @ dout[:, j]
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def load_variants():
    variants = [Variant("reference", "reference", {name: getattr(reference, name) for name in FUNCTIONS})]
    for kind in ("valid", "cheats"):
        for path in sorted((REPO / "autograder" / "corpus" / kind).glob("*.py")):
            variants.append(load_entry(path, kind))
    jacobian = dict(variants[0].namespace, batchnorm_backward=_jacobian_backward,
                    batchnorm_backward_alt=_jacobian_backward)
    variants.append(Variant("explicit_jacobian", "extra", jacobian))
    return variants


# ---------------------------------------------------------------------------------------------
# Cost


class CutOff(Exception):
    pass


def _alarm(signum, frame):
    raise CutOff()


def timed(function, args, cap):
    """((cpu, wall) seconds, result) of function(*args); (None, None) after cap CPU seconds.

    CPU time (user + system of this process) rather than wall time: other jobs share the
    machine, and a cut-off measured in CPU seconds does not depend on them.
    """
    signal.signal(signal.SIGPROF, _alarm)
    signal.setitimer(signal.ITIMER_PROF, cap)
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        result = call_quietly(function, args)
    except CutOff:
        return None, None
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
    return (time.process_time() - cpu, time.perf_counter() - wall), result


def _inputs(N, D, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, D)) * rng.uniform(0.5, 2.0, size=D) + rng.normal(size=D)
    return x, 1.0 + 0.3 * rng.normal(size=D), 0.3 * rng.normal(size=D), rng.normal(size=(N, D))


def measure_calls(variant, norm, N, D, cap, repeats):
    """{call: (cpu, wall) or None} for one forward and the backward call(s) of one normalisation.

    norm "bn": x of shape (N, D). norm "ln": x of shape (D, N) (the transposed, wide shape).
    Minimum over `repeats` runs; a call cut off once is not repeated.
    """
    shape = (N, D) if norm == "bn" else (D, N)
    x, gamma, beta, dout = _inputs(*shape) if norm == "bn" else _transposed_inputs(N, D)
    if variant.name == "explicit_jacobian" and norm == "bn" and 3 * N * N * 8 > 1e9:
        return {"batchnorm_forward": None, "batchnorm_backward": None, "batchnorm_backward_alt": None}
    calls = (("batchnorm_forward", ("batchnorm_backward", "batchnorm_backward_alt")) if norm == "bn"
             else ("layernorm_forward", ("layernorm_backward",)))
    forward, backwards = calls
    if variant.kind == "cheats":
        backwards = backwards[:1]  # their batchnorm_backward_alt differences the same way
    best = {}
    for _ in range(repeats):
        param = {"mode": "train", "eps": 1e-5} if norm == "bn" else {"eps": 1e-5}
        times, result = timed(variant.function(forward), (x, gamma, beta, param), cap)
        _keep_best(best, forward, times)
        if times is None:
            return {forward: None, **{b: None for b in backwards}}
        cache = result[1]
        for backward in backwards:
            if best.get(backward, 0) is None:
                continue
            times, _ = timed(variant.function(backward), (dout, cache), cap)
            _keep_best(best, backward, times)
        if any(v is None or v[0] > 2.0 for v in best.values()):
            break  # slow runs are not repeated
    return best


def _transposed_inputs(N, D):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(D, N)) * rng.uniform(0.5, 2.0, size=(D, 1)) + rng.normal(size=(D, 1))
    return x, 1.0 + 0.3 * rng.normal(size=N), 0.3 * rng.normal(size=N), rng.normal(size=(D, N))


def _keep_best(best, call, times):
    if times is None:
        best[call] = None
    elif call not in best or (best[call] is not None and times[0] < best[call][0]):
        best[call] = times


def _slope_estimate(points, N):
    """Extrapolate CPU time to N from the two largest finished (N, seconds) points.

    Fits t = a * N + b * N^2 (a, b >= 0) through them: per-call overhead plus the quadratic work
    of differencing; returns (seconds, the local log-log slope at N).
    """
    (n1, t1), (n2, t2) = points[-2:]
    det = n1 * n2 * n2 - n2 * n1 * n1
    a = (t1 * n2 * n2 - t2 * n1 * n1) / det
    b = (n1 * t2 - n2 * t1) / det
    if b < 0:
        a, b = t2 / n2, 0.0
    elif a < 0:
        a, b = 0.0, t2 / n2**2
    seconds = a * N + b * N * N
    return seconds, (a * N + 2 * b * N * N) / seconds if seconds > 0 else 1.0


def cost_series(variant, norm, D, sizes, cap, repeats, probe):
    """{N: {call: (cpu, wall) | ("est", seconds, slope)}} over sizes, stopping after a cut-off."""
    table, finished = {}, {}
    all_sizes = sorted(set(sizes) | (set(PROBE_SIZES) if probe else set()))
    cut = False
    for N in all_sizes:
        if cut:
            table[N] = {}
            continue
        row = measure_calls(variant, norm, N, D, cap, repeats)
        table[N] = row
        for call, value in row.items():
            if value is not None:
                finished.setdefault(call, []).append((N, value[0]))
        if any(v is None for v in row.values()):
            cut = True
        else:
            # do not start a run that the trend says cannot finish
            slow = [c for c, pts in finished.items() if len(pts) >= 2]
            nxt = [n for n in all_sizes if n > N]
            if nxt and slow and any(_slope_estimate(finished[c], nxt[0])[0] > 1.5 * cap for c in slow):
                cut = True
    for N, row in table.items():
        for call, points in finished.items():
            if row.get(call) is None and len(points) >= 2:
                seconds, slope = _slope_estimate(points, N)
                row[call] = ("est", seconds, slope)
    probes = {N: table[N] for N in PROBE_SIZES if N in table and N not in sizes}
    return {N: table[N] for N in sizes}, probes


def _fmt_time(value, cap):
    if value is None:
        return f">{cap:g}s (?)"
    if value[0] == "est":
        return f">{cap:g}s (~{_human(value[1])}, N^{value[2]:.1f})" if value[1] > cap else f"~{_human(value[1])}"
    return f"{_human(value[0])} ({_human(value[1])})"


def _human(seconds):
    if seconds >= 3600:
        return f"{seconds / 3600:.1f}h"
    if seconds >= 60:
        return f"{seconds / 60:.1f}min"
    if seconds >= 1:
        return f"{seconds:.2f}s"
    return f"{seconds * 1000:.1f}ms"


def _seconds(value):
    if value is None:
        return math.inf
    return value[1] if value[0] == "est" else value[0]


def run_cost(variants, sizes, widths, cap, repeats):
    honest = [v for v in variants if v.name == "reference" or v.name in SLOW_HONEST or v.name == "explicit_jacobian"]
    per_row = [v for v in variants if v.name in PER_ROW_CHEATS]
    directional = [v for v in variants if v.name in DIRECTIONAL_CHEATS]
    print(f"== cost: CPU seconds (wall) of one forward (train) call and each backward call; "
          f"best of {repeats} runs (one when a call takes over 2 s); cut off after {cap:g} CPU seconds;\n"
          f"   sizes whose extrapolated time exceeds 1.5 x {cap:g} s are not run\n")
    summary = []
    for norm, label in (("bn", "batch norm, x of shape (N, D)"), ("ln", "layer norm, x of shape (D, N)")):
        for D in widths:
            print(f"-- {label}, D = {D}")
            results, probes = {}, {}
            for variant in honest + directional + per_row:
                probe = variant in per_row or variant.name == "explicit_jacobian"
                results[variant.name], probes[variant.name] = cost_series(variant, norm, D, sizes, cap, repeats, probe)
                sys.stdout.flush()
            calls = FUNCTIONS[:3] if norm == "bn" else FUNCTIONS[3:]
            header = f"{'variant':32s} {'call':24s}" + "".join(f"{'N=' + str(N):>30s}" for N in sizes)
            print(header)
            for variant in honest + directional + per_row:
                for call in calls:
                    cells = [_fmt_time(results[variant.name][N].get(call), cap) for N in sizes]
                    if call.endswith("forward") and variant in per_row + directional:
                        continue  # the same correct forward pass as every other entry
                    if variant.kind == "cheats" and call == "batchnorm_backward_alt":
                        continue  # not measured: the same differencing as batchnorm_backward
                    print(f"{variant.name:32s} {call:24s}" + "".join(f"{c:>30s}" for c in cells))
            print("smaller sizes measured to extrapolate from (CPU seconds of the backward call):")
            for name, table in probes.items():
                measured = [f"N={N}: {_human(row[calls[1]][0])}" for N, row in table.items()
                            if isinstance(row.get(calls[1]), tuple) and row[calls[1]][0] != "est"]
                if measured:
                    print(f"  {name:30s} " + ", ".join(measured))
            print()
            for N in sizes:
                slowest = max((max(_seconds(results[v.name][N].get(c)) for c in calls), v.name)
                              for v in honest if v.name != "explicit_jacobian")
                fastest = min((min(_seconds(results[v.name][N].get(c)) for c in calls[1:]), v.name)
                              for v in per_row)
                summary.append((norm, N, D, slowest, fastest))
            sys.stdout.flush()
    print("-- separation (CPU seconds): slowest honest call (reference and the slow valid entries) against\n"
          "   the fastest per-row / per-column / per-element differencing backward call; limit = geometric\n"
          "   mean, margin = ratio ** 0.5 on each side")
    print(f"{'norm':5s} {'shape':>14s} {'slowest honest':>36s} {'fastest differencing':>44s} "
          f"{'ratio':>9s} {'limit':>9s} {'margin':>8s}")
    for norm, N, D, (t_h, name_h), (t_c, name_c) in summary:
        shape = f"({N}, {D})" if norm == "bn" else f"({D}, {N})"
        ratio = t_c / max(t_h, 1e-3)  # CPU clocks can be coarse (a few ms)
        limit = math.sqrt(t_c * t_h)
        print(f"{norm:5s} {shape:>14s} {_human(t_h) + ' ' + name_h:>36s} {_human(t_c) + ' ' + name_c:>44s} "
              f"{ratio:9.0f} {_human(limit):>9s} {math.sqrt(ratio):7.0f}x")
    print()


# ---------------------------------------------------------------------------------------------
# Precision


def _true_gradients(x, gamma, dout, eps, axis):
    """dx and dgamma of the closed form in long double, and the scales errors are measured against."""
    xl, gl, dl = (np.asarray(a, dtype=np.longdouble) for a in (x, gamma, dout))
    mean = xl.mean(axis=axis, keepdims=True)
    xc = xl - mean
    var = (xc * xc).mean(axis=axis, keepdims=True)
    std = np.sqrt(var + np.longdouble(eps))
    xhat = xc / std
    dxhat = dl * gl
    dx = (dxhat - dxhat.mean(axis=axis, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=axis, keepdims=True)) / std
    dgamma = (dl * xhat).sum(axis=0)
    terms = np.abs(dxhat / std)
    return (dx.astype(np.float64), dgamma.astype(np.float64), terms.astype(np.float64),
            np.abs(dl * xhat).sum(axis=0).astype(np.float64))


def dx_errors(dx, true, terms, axis):
    """(normwise error, worst error per column (axis 0) / per row (axis 1)) relative to the terms."""
    diff = np.abs(dx - true)
    scale = np.maximum(np.abs(true), terms)
    whole = diff.max() / scale.max()
    per = diff.max(axis=axis) / np.maximum(scale.max(axis=axis), 1e-300)
    return float(whole), float(per.max())


def _family_cases(family, rng, axis):
    """(x, gamma, beta, eps, dout) of one seed of one input family, several shapes."""
    shapes = LARGE_SHAPES if family in LARGE_FAMILIES else [(2, 6), (4, 3), (8, 5), (16, 4), (64, 3), (3, 40)]
    if axis == 1:
        shapes = [(d, n) for n, d in shapes]
    for shape in shapes:
        other = shape[1 - axis]
        stat_shape = (1, other) if axis == 0 else (other, 1)
        gamma = 1.0 + 0.3 * rng.normal(size=shape[1])
        beta = 0.3 * rng.normal(size=shape[1])
        dout = rng.normal(size=shape)
        eps = 1e-5
        if family == "centred":    # each column (bn) / example (ln) of x has mean 0 to rounding
            x = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=stat_shape)
            x -= x.mean(axis=axis, keepdims=True)
        elif family == "outliers":  # centred, large N, one far outlier per column (bn) / example (ln)
            n = shape[axis]
            x = rng.normal(size=shape)
            far = rng.integers(n, size=other)
            if axis == 0:
                x[far, np.arange(other)] += np.sqrt(n) * rng.choice([-1.0, 1.0], size=other)
            else:
                x[np.arange(other), far] += np.sqrt(n) * rng.choice([-1.0, 1.0], size=other)
            x *= rng.uniform(0.5, 2.0, size=stat_shape)
            x -= x.mean(axis=axis, keepdims=True)
        elif family == "heavy":     # centred, large N, Student t (1.5 degrees of freedom)
            x = rng.standard_t(1.5, size=shape) * rng.uniform(0.5, 2.0, size=stat_shape)
            x -= x.mean(axis=axis, keepdims=True)
        elif family == "standard":  # mean 0 +- 1, spread 0.5 .. 2, eps far below the variance
            x = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=stat_shape) + rng.normal(size=stat_shape)
        elif family == "grader":    # today's hidden-test distribution: offsets 3, spreads 0.005 .. 10
            scales = np.exp(rng.uniform(np.log(0.01), np.log(10.0), size=stat_shape))
            scales.flat[rng.integers(other)] = 0.005
            x = rng.normal(size=shape) * scales + rng.normal(scale=3.0, size=stat_shape)
            eps = float(rng.choice([1e-3, 1e-4, 2e-3, 5e-4]))
        elif family == "offset":    # mean 1000 times the spread
            x = 1000.0 * np.sign(rng.normal(size=stat_shape)) + rng.normal(size=shape) \
                * rng.uniform(0.5, 2.0, size=stat_shape)
        elif family == "dout_range":  # dout's columns (bn) / rows (ln) from 1e-6 to 1e6
            x = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=stat_shape) + rng.normal(size=stat_shape)
            dout = dout * 10.0 ** rng.uniform(-6, 6, size=stat_shape)
        elif family == "dout_spiky":  # heavy-tailed dout: a few entries dominate each column / row
            x = rng.normal(size=shape) * rng.uniform(0.5, 2.0, size=stat_shape) + rng.normal(size=stat_shape)
            dout = rng.standard_cauchy(size=shape)
        else:
            raise ValueError(family)
        yield x, gamma, beta, eps, dout


FAMILIES = ("centred", "outliers", "heavy", "standard", "grader", "offset", "dout_range", "dout_spiky")
LARGE_FAMILIES = ("outliers", "heavy")
LARGE_SHAPES = [(256, 3), (1024, 2), (4096, 1)]  # statistics over many entries
ELEMENTWISE = ("fd_forward_elementwise", "central_elementwise_tiny_step")


class _Counter:
    def __init__(self, function):
        self.function, self.calls = function, 0

    def __call__(self, *args, **kwargs):
        self.calls += 1
        return self.function(*args, **kwargs)


def precision_of(variant, backward, seeds):
    """{family: (dx errors, per-column errors, dgamma errors, forward calls by name)} over seeds."""
    axis = 1 if backward == "layernorm_backward" else 0
    forward = "layernorm_forward" if axis else "batchnorm_forward"
    results = {}
    for family in FAMILIES:
        errors, per, dgamma_errors, calls = [], [], [], 0
        slow = family in LARGE_FAMILIES and variant.name in PER_ROW_CHEATS
        for seed in range(max(3, seeds // 10) if slow else seeds):  # differencing row by row is slow
            rng = np.random.default_rng([seed, FAMILIES.index(family), axis])
            worst = (0.0, 0.0, 0.0)
            for x, gamma, beta, eps, dout in _family_cases(family, rng, axis):
                param = {"eps": eps} if axis else {"mode": "train", "eps": eps}
                _, cache = call_quietly(variant.function(forward), (x.copy(), gamma.copy(), beta.copy(), param))
                counter = _Counter(variant.namespace[forward])
                variant.namespace[forward] = counter
                try:
                    dx, dgamma, _ = call_quietly(variant.function(backward), (dout.copy(), cache))
                finally:
                    variant.namespace[forward] = counter.function
                calls = max(calls, counter.calls)
                true_dx, true_dgamma, terms, dgamma_terms = _true_gradients(x, gamma, dout, eps, axis)
                whole, col = dx_errors(np.asarray(dx, dtype=np.float64), true_dx, terms, axis)
                dg = float(np.max(np.abs(dgamma - true_dgamma)) / np.max(dgamma_terms))
                worst = tuple(max(a, b) for a, b in zip(worst, (whole, col, dg)))
            errors.append(worst[0])
            per.append(worst[1])
            dgamma_errors.append(worst[2])
        results[family] = (np.array(errors), np.array(per), np.array(dgamma_errors), calls)
    return results


def run_precision(variants, seeds):
    print(f"== precision: worst over 6 shapes per seed, then max / median over {seeds} seeds; "
          "relative to the terms (see the module docstring)\n")
    print("families: " + ", ".join(FAMILIES) + f"; {', '.join(LARGE_FAMILIES)} use the shapes {LARGE_SHAPES} "
          "(batch norm; transposed for layer norm), and only a tenth of the seeds for per-row differencing")
    rows = []
    for variant in variants:
        for backward in ("batchnorm_backward", "batchnorm_backward_alt", "layernorm_backward"):
            start = time.perf_counter()
            rows.append((variant, backward, precision_of(variant, backward, seeds), time.perf_counter() - start))
    for family in FAMILIES:
        print(f"\n-- family {family}")
        print(f"{'variant':32s} {'kind':10s} {'backward':24s} {'dx max':>9s} {'dx median':>10s} "
              f"{'per-col max':>12s} {'dgamma max':>11s} {'fwd calls':>10s}")
        for variant, backward, result, _ in rows:
            errors, per, dgamma_errors, calls = result[family]
            print(f"{variant.name:32s} {variant.kind:10s} {backward:24s} {errors.max():9.1e} "
                  f"{np.median(errors):10.1e} {per.max():12.1e} {dgamma_errors.max():11.1e} {calls:10d}")
    print("\n-- summary: worst honest dx error (reference + valid/) against the best differencing "
          "entry (cheats/, median over seeds)")
    numerical = DIRECTIONAL_CHEATS + PER_ROW_CHEATS
    for family in FAMILIES:
        for backward in ("batchnorm_backward", "batchnorm_backward_alt", "layernorm_backward"):
            honest = [(r[family][0].max(), v.name) for v, b, r, _ in rows
                      if b == backward and v.kind in ("reference", "valid")]
            cheats = [(np.median(r[family][0]), r[family][0].min(), v.name) for v, b, r, _ in rows
                      if b == backward and v.name in numerical]
            worst_honest = max(honest)
            print(f"{family:11s} {backward:24s} worst honest {worst_honest[0]:8.1e} ({worst_honest[1]})")
            for median, best, name in sorted(cheats, reverse=True):
                print(f"{'':36s} {name:32s} median {median:8.1e}  min {best:8.1e}  "
                      f"ratio to worst honest {median / max(worst_honest[0], 1e-300):9.1e}")
    print()


# ---------------------------------------------------------------------------------------------
# The best directional differencing a student could tune


# central difference quotients: f'(0) ~ sum_k c_k (f(k h) - f(-k h)) / h, k = 1, 2, ...
STENCILS = {2: (1 / 2,), 4: (2 / 3, -1 / 12), 6: (3 / 4, -3 / 20, 1 / 60), 8: (4 / 5, -1 / 5, 4 / 105, -1 / 280)}
STEPS = np.logspace(-7, -0.5, 27)


def _normalised(x, gamma, eps, axis):
    centred = x - x.mean(axis=axis, keepdims=True)
    return gamma * centred / np.sqrt((centred * centred).mean(axis=axis, keepdims=True) + eps)


def directional_dx(x, gamma, dout, eps, axis, order, step, dtype=np.float64):
    """dx by differencing the forward pass along dout (see directional_central in the cheats).

    dtype np.longdouble runs the differenced forward passes in extended precision.
    """
    x, gamma, dout = (np.asarray(a, dtype=dtype) for a in (x, gamma, dout))
    x = x - x.mean(axis=axis, keepdims=True)
    std = np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    v, g = (dout, gamma) if axis == 0 else (gamma * dout, np.ones_like(gamma))
    size = np.abs(v).max(axis=axis, keepdims=True)
    size = np.where(size > 0, size, 1.0)
    direction = v / size * std
    if order == "complex":
        return _normalised(x + 1j * step * direction, g, eps, axis).imag / step * (size / std)
    total = sum(c * (_normalised(x + k * step * direction, g, eps, axis)
                     - _normalised(x - k * step * direction, g, eps, axis))
                for k, c in enumerate(STENCILS[order], 1))
    return (total / step * (size / std)).astype(np.float64)


def _stencil_errors(order, step, seeds, axis, family="centred", dtype=np.float64):
    errors = []
    for seed in range(seeds):
        rng = np.random.default_rng([seed, FAMILIES.index(family), axis])
        worst = 0.0
        for x, gamma, beta, eps, dout in _family_cases(family, rng, axis):
            true_dx, _, terms, _ = _true_gradients(x, gamma, dout, eps, axis)
            worst = max(worst, dx_errors(directional_dx(x, gamma, dout, eps, axis, order, step, dtype),
                                         true_dx, terms, axis)[0])
        errors.append(worst)
    return np.array(errors)


def run_steps(seeds):
    print(f"== steps: directional differencing on the centred family, median (max) over {seeds} seeds of "
          "the worst of 6 shapes\n")
    _step_table(seeds)
    print(f"== steps: the same, tuned on the outliers family ({max(3, seeds // 3)} seeds): the step with the "
          "lowest median error, and min / median / max over seeds at that step\n")
    for axis, label in ((0, "batch norm"), (1, "layer norm")):
        for order, dtype in ((4, np.float64), (6, np.float64), (8, np.float64), (4, np.longdouble), ("complex", None)):
            steps = [1e-20] if order == "complex" else np.logspace(-6, -0.5, 23)
            scan = []
            for step in steps:
                errors = _stencil_errors(order, step, max(3, seeds // 3), axis, "outliers", dtype or np.float64)
                scan.append((np.median(errors), errors.min(), errors.max(), step))
            median, low, high, step = min(scan)
            name = f"order {order}" + (" in long double" if dtype is np.longdouble else "")
            print(f"{label}, {name:22s}: step {step:.1e}: min {low:.1e}, median {median:.1e}, max {high:.1e}")
        print()


def _step_table(seeds):
    for axis, label in ((0, "batch norm"), (1, "layer norm")):
        print(f"-- {label}")
        print(f"{'step':>9s}" + "".join(f"{'order ' + str(o):>22s}" for o in STENCILS))
        best = {}
        for step in STEPS:
            cells = []
            for order in STENCILS:
                errors = _stencil_errors(order, step, seeds, axis)
                cells.append(f"{np.median(errors):10.1e} ({errors.max():8.1e})")
                if order not in best or np.median(errors) < best[order][1]:
                    best[order] = (step, np.median(errors), errors.max())
            print(f"{step:9.1e}" + "".join(f"{c:>22s}" for c in cells))
        errors = _stencil_errors("complex", 1e-20, seeds, axis)
        print(f"complex step (h = 1e-20): median {np.median(errors):.1e}, max {errors.max():.1e}")
        for order, (step, median, worst) in best.items():
            print(f"order {order}: best step {step:.1e} standard deviations: median {median:.1e}, max {worst:.1e}")
        if np.finfo(np.longdouble).eps < np.finfo(np.float64).eps:
            for order in (2, 4):
                scan = [(np.median(e), e.max(), step) for step in np.logspace(-9, -1, 17)
                        for e in [_stencil_errors(order, step, seeds, axis, dtype=np.longdouble)]]
                median, worst, step = min(scan)
                print(f"order {order} in long double (eps {np.finfo(np.longdouble).eps:.0e}): best step "
                      f"{step:.1e}: median {median:.1e}, max {worst:.1e}")
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("cost", "precision", "steps", "all"), default="all")
    parser.add_argument("--cap", type=float, default=20.0, help="seconds after which a call is cut off")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--sizes", default="20000,50000,100000,200000")
    parser.add_argument("--widths", default="1,2,4")
    parser.add_argument("--only", default="", help="comma-separated variant names (default: all)")
    args = parser.parse_args()
    variants = load_variants()
    if args.only:
        names = set(args.only.split(","))
        variants = [v for v in variants if v.name in names]
    print(f"numpy {np.__version__}, {os.cpu_count()} cpus, load average "
          f"{', '.join(f'{a:.2f}' for a in os.getloadavg())}\n")
    if args.part in ("precision", "all"):
        run_precision(variants, args.seeds)
    if args.part in ("steps", "all"):
        run_steps(args.seeds)
    if args.part in ("cost", "all"):
        run_cost(variants, [int(n) for n in args.sizes.split(",")], [int(d) for d in args.widths.split(",")],
                 args.cap, args.repeats)


if __name__ == "__main__":
    main()
