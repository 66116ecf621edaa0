"""The notebook's visible checks, as data: fixed small inputs, the results a correct
implementation gives, and the results of every known mistake on them.

The table is computed here from autograder.reference and autograder.checks.mistakes (the very
descriptions the hidden tests use) and saved beside the notebook as visible_checks.npz, which
students get: numbers and sentences, no reference code. checking.py (released) runs the checks
from it, so a visible check names the same cause as the hidden verdict.

    python -m autograder.authoring sync    (writes the table too; a test fails when it is stale)
"""
import io
import json

import numpy as np

from autograder import course, reference
from autograder.checks import mistakes

TABLE = "visible_checks.npz"


class _Table:
    """Arrays under generated keys, and the JSON index that refers to them."""

    def __init__(self):
        self.arrays, self.index = {}, {}

    def array(self, value):
        key = f"a{len(self.arrays)}"
        self.arrays[key] = np.asarray(value, dtype=float)
        return key

    def mistakes(self, pairs):
        return [[description, self.array(value)] for description, value in pairs]

    def add(self, part, case):
        self.index.setdefault(part, []).append(case)

    def to_bytes(self):
        buffer = io.BytesIO()
        np.savez_compressed(buffer, __index__=np.array(json.dumps(self.index, sort_keys=True)), **self.arrays)
        return buffer.getvalue()


def _param(param):
    return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in param.items()}


def _batchnorm_forward(table):
    x = np.array([[1.0, 2.0, 0.5], [3.0, 6.0, 0.5], [2.0, 4.0, 2.0]])
    gamma, beta = np.array([2.0, 0.5, -1.0]), np.array([0.1, -0.2, 0.3])
    eps, momentum = 1e-3, 0.8
    param = {"mode": "train", "eps": eps, "momentum": momentum}
    out, _ = reference.batchnorm_forward(x, gamma, beta, dict(param))
    zeros = np.zeros(3)
    table.add("batchnorm_forward", {
        "title": "train mode: a 3x3 batch you can check by hand (column means 2, 4 and 1; biased "
                 "variances 2/3, 8/3 and 1/2), eps=1e-3, momentum=0.8, running averages from zeros",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta)},
        "param": param,
        "expect": {"out": table.array(out),
                   "running_mean": table.array(0.2 * x.mean(axis=0)),
                   "running_var": table.array(0.2 * x.var(axis=0))},
        "mistakes": {
            "out": table.mistakes(mistakes.forward_mistakes(x, gamma, beta, eps, 0)),
            "running_mean": table.mistakes(mistakes.running_mistakes(zeros, [x.mean(axis=0)], momentum, eps,
                                                                     "running_mean")),
            "running_var": table.mistakes(mistakes.running_mistakes(zeros, [x.var(axis=0)], momentum, eps,
                                                                    "running_var", [x.var(axis=0, ddof=1)])),
        },
    })
    rng = np.random.default_rng(231)
    x = rng.normal(loc=[3.0, -1.0, 20.0, 0.0], scale=[1.0, 5.0, 0.5, 2.0], size=(20, 4))
    gamma, beta = np.array([1.5, 0.5, 2.0, -1.0]), np.array([0.0, 1.0, -2.0, 0.5])
    start_mean, start_var = np.array([3.0, -1.0, 19.0, 1.0]), np.array([2.0, 20.0, 0.3, 4.0])
    param = {"mode": "train", "eps": 2e-3, "momentum": 0.7, "running_mean": start_mean, "running_var": start_var}
    ref = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in param.items()}
    out, _ = reference.batchnorm_forward(x, gamma, beta, ref)
    table.add("batchnorm_forward", {
        "title": "train mode: a batch of 20 with running averages to update (eps=2e-3, momentum=0.7)",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta)},
        "param": _param(param),
        "expect": {"out": table.array(out), "running_mean": table.array(ref["running_mean"]),
                   "running_var": table.array(ref["running_var"])},
        "mistakes": {
            "out": table.mistakes(mistakes.forward_mistakes(x, gamma, beta, 2e-3, 0)),
            "running_mean": table.mistakes(mistakes.running_mistakes(start_mean, [x.mean(axis=0)], 0.7, 2e-3,
                                                                     "running_mean")),
            "running_var": table.mistakes(mistakes.running_mistakes(start_var, [x.var(axis=0)], 0.7, 2e-3,
                                                                    "running_var", [x.var(axis=0, ddof=1)])),
        },
    })
    param = {"mode": "test", "running_mean": start_mean, "running_var": start_var}
    out, _ = reference.batchnorm_forward(x, gamma, beta, {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                                          for k, v in param.items()})
    table.add("batchnorm_forward", {
        "title": "test mode: the running averages replace the batch statistics, and nothing is updated "
                 "(default eps)",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta)},
        "param": _param(param),
        "expect": {"out": table.array(out), "running_mean": table.array(start_mean),
                   "running_var": table.array(start_var)},
        "mistakes": {"out": table.mistakes(mistakes.test_mode_mistakes(x, gamma, beta, 1e-5, start_mean,
                                                                       start_var))},
    })


def _layernorm_forward(table):
    x = np.array([[1.0, 2.0, 3.0, 6.0], [0.0, 0.0, 4.0, 4.0]])
    gamma, beta = np.array([2.0, 0.5, -1.0, 1.0]), np.array([0.1, -0.2, 0.3, 0.0])
    out, _ = reference.layernorm_forward(x, gamma, beta, {"eps": 1e-3})
    table.add("layernorm_forward", {
        "title": "2 examples you can check by hand (row means 3 and 2; biased variances 3.5 and 4), eps=1e-3",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta)},
        "param": {"eps": 1e-3},
        "expect": {"out": table.array(out)},
        "mistakes": {"out": table.mistakes(mistakes.forward_mistakes(x, gamma, beta, 1e-3, 1))},
    })
    rng = np.random.default_rng(4)
    x = rng.normal(2.0, 3.0, size=(5, 6)) * np.array([[0.01], [1.0], [10.0], [0.1], [3.0]])
    gamma, beta = 1.0 + 0.3 * rng.normal(size=6), 0.5 * rng.normal(size=6)
    out, _ = reference.layernorm_forward(x, gamma, beta, {})
    table.add("layernorm_forward", {
        "title": "5 examples of very different scales, default eps (an empty ln_param)",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta)},
        "param": {},
        "expect": {"out": table.array(out)},
        "mistakes": {"out": table.mistakes(mistakes.forward_mistakes(x, gamma, beta, 1e-5, 1))},
    })


def _backward(table, part, forward, axis, shape, seed, param, small=None):
    """One backward case; small: index of a feature (batch norm) or example (layer norm) whose
    variance is below eps, so that every eps mistake shows."""
    rng = np.random.default_rng(seed)
    x = rng.normal(-1.0, 4.0, size=shape)
    if small is not None:
        index = (slice(None), small) if axis == 0 else (small, slice(None))
        x[index] = 0.005 * rng.normal(size=x[index].shape) + 2.0
    gamma, beta = 1.0 + 0.3 * rng.normal(size=shape[1]), 0.5 * rng.normal(size=shape[1])
    dout = rng.normal(size=shape)
    out, cache = getattr(reference, forward)(x, gamma, beta, dict(param))
    backward = reference.layernorm_backward if axis else reference.batchnorm_backward_alt
    dx, dgamma, dbeta = backward(dout, cache)
    eps = param.get("eps", 1e-5)
    wrong = mistakes.gradient_mistakes(x, gamma, dout, eps, axis)
    details = [f"eps={eps:g}"] + (["N == D"] if shape[0] == shape[1] else []) + (
        [f"{'feature' if axis == 0 else 'example'} {small} of tiny variance"] if small is not None else [])
    table.add(part, {
        "title": f"x of shape {shape} ({', '.join(details)}), gamma and beta away from 1 and 0, through your "
                 f"{forward}'s cache",
        "inputs": {"x": table.array(x), "gamma": table.array(gamma), "beta": table.array(beta),
                   "dout": table.array(dout)},
        "param": param, "forward": forward,
        "expect": {"dx": table.array(dx), "dgamma": table.array(dgamma), "dbeta": table.array(dbeta),
                   "out": table.array(out)},
        "scale": {"dx": mistakes.dx_scale(x, gamma, dout, eps, axis, dx)},
        "mistakes": {key: table.mistakes(wrong[key]) for key in ("dx", "dgamma", "dbeta")},
    })


def _backward_cases(table, part, forward, axis, seed, param):
    """A tall or wide batch with a tiny-variance row or column and non-default eps, a square one,
    and a single feature (batch norm) or example (layer norm)."""
    single = (5, 1) if axis == 0 else (1, 6)
    _backward(table, part, forward, axis, (6, 4) if axis == 0 else (4, 7), seed, {**param, "eps": 1e-3}, small=1)
    _backward(table, part, forward, axis, (4, 4), seed + 10, param)
    _backward(table, part, forward, axis, single, seed + 20, {**param, "eps": 2e-3})


def build():
    """The table of every visible check, as the bytes of an .npz file."""
    table = _Table()
    _batchnorm_forward(table)
    _backward_cases(table, "batchnorm_backward", "batchnorm_forward", 0, 1, {"mode": "train"})
    _backward_cases(table, "batchnorm_backward_alt", "batchnorm_forward", 0, 2, {"mode": "train"})
    _layernorm_forward(table)
    _backward_cases(table, "layernorm_backward", "layernorm_forward", 1, 5, {})
    return table.to_bytes()


def table_path(assignment=None):
    assignment = assignment or course.assignment()
    return assignment.source_dir / TABLE


def write(assignment=None):
    """Write the table beside the source notebook; returns True when it changed."""
    path, data = table_path(assignment), build()
    if path.exists() and _same(path.read_bytes(), data):
        return False
    path.write_bytes(data)
    return True


def is_current(assignment=None):
    """The table beside the source notebook is what build() gives today."""
    path = table_path(assignment)
    return path.exists() and _same(path.read_bytes(), build())


def _same(left, right):
    """Two tables hold the same index and arrays (compressed bytes may differ)."""
    with np.load(io.BytesIO(left)) as a, np.load(io.BytesIO(right)) as b:
        return set(a.files) == set(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
