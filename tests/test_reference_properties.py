"""Invariance properties of the reference implementations, after Ba, Kiros and Hinton (2016),
"Layer Normalization", Table 1: what each normalisation is invariant to, and what it depends on.

Tolerances. eps breaks exact invariance: the normaliser sqrt(var + eps) of a re-scaled input
a * x is a * sqrt(var + eps / a**2). The invariance tests use EPS = 1e-12 and inputs whose
variance is at least MIN_VAR = 1e-2 (per feature or per example) with factors a >= 0.1, so eps
moves the output by a relative amount of at most EPS / (0.1**2 * MIN_VAR) = 1e-8; rounding in
a * x + b with |a * x| <= 1e3 and |b| <= 1e2, measured against a spread of at least
0.1 * sqrt(MIN_VAR) = 1e-2, adds about 1e-16 * 1e3 / 1e-2 = 1e-11. TOL = 1e-7 covers both.
"""

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from autograder import reference

EPS = 1e-12
MIN_VAR = 1e-2
TOL = 1e-7

# a local settings object, not a profile: loading a profile would change every other test file
few_examples = settings(max_examples=40, deadline=None)

dims = st.integers(2, 12)
values = st.floats(-100, 100, allow_nan=False, allow_infinity=False)
factors = st.floats(0.1, 10)
shifts = st.floats(-100, 100)
# gamma away from 0, so that a change of the normalised value shows in the output
gammas = st.one_of(st.floats(-3, -0.1), st.floats(0.1, 3))


def matrix(N, D, elements=values):
    # fill=nothing draws every entry on its own; the default fill repeats one value, which
    # mostly gives near-constant features that the invariance tests would have to reject
    return arrays(np.float64, (N, D), elements=elements, fill=st.nothing())


def vector(D, elements):
    return arrays(np.float64, (D,), elements=elements, fill=st.nothing())


@st.composite
def batches(draw, min_N=2):
    """A batch x of shape (N, D) with gamma and beta."""
    N, D = draw(st.integers(min_N, 12)), draw(dims)
    return draw(matrix(N, D)), draw(vector(D, gammas)), draw(vector(D, values))


def rel_error(a, b):
    return np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), 1e-300)


def layernorm(x, gamma, beta):
    return reference.layernorm_forward(x, gamma, beta, {"eps": EPS})[0]


def batchnorm(x, gamma, beta, mode="train", **bn_param):
    return reference.batchnorm_forward(x, gamma, beta, {"mode": mode, "eps": EPS, **bn_param})[0]


@few_examples
@given(batches(min_N=1), st.data())
def test_layernorm_output_of_an_example_does_not_depend_on_the_other_examples(batch, data):
    x, gamma, beta = batch
    others = data.draw(matrix(data.draw(dims), x.shape[1]))
    i = data.draw(st.integers(0, x.shape[0] - 1))
    out = layernorm(x, gamma, beta)[i]
    alone = layernorm(x[i : i + 1], gamma, beta)[0]
    among_others = layernorm(np.vstack([others, x[i : i + 1]]), gamma, beta)[-1]
    assert rel_error(alone, out) <= 1e-12
    assert rel_error(among_others, out) <= 1e-12


@few_examples
@given(batches(min_N=1), st.data(), factors, shifts)
def test_layernorm_is_invariant_to_shifting_and_rescaling_a_single_example(batch, data, a, b):
    x, gamma, beta = batch
    assume(x.var(axis=1).min() >= MIN_VAR)
    i = data.draw(st.integers(0, x.shape[0] - 1))
    moved = x.copy()
    moved[i] = a * x[i] + b
    assert rel_error(layernorm(moved, gamma, beta), layernorm(x, gamma, beta)) <= TOL


@few_examples
@given(batches(), st.data())
def test_batchnorm_train_is_invariant_to_shifting_and_rescaling_each_feature(batch, data):
    x, gamma, beta = batch
    assume(x.var(axis=0).min() >= MIN_VAR)
    a = data.draw(vector(x.shape[1], factors))
    b = data.draw(vector(x.shape[1], shifts))
    assert rel_error(batchnorm(a * x + b, gamma, beta), batchnorm(x, gamma, beta)) <= TOL


@few_examples
@given(batches(min_N=1), st.data())
def test_batchnorm_test_mode_normalises_each_example_on_its_own(batch, data):
    x, gamma, beta = batch
    D = x.shape[1]
    running = {"running_mean": data.draw(vector(D, values)),
               "running_var": data.draw(vector(D, st.floats(1e-3, 1e3)))}
    others = data.draw(matrix(data.draw(dims), D))
    i = data.draw(st.integers(0, x.shape[0] - 1))
    out = batchnorm(x, gamma, beta, "test", **running)[i]
    alone = batchnorm(x[i : i + 1], gamma, beta, "test", **running)[0]
    among_others = batchnorm(np.vstack([others, x[i : i + 1]]), gamma, beta, "test", **running)[-1]
    assert rel_error(alone, out) <= 1e-12
    assert rel_error(among_others, out) <= 1e-12


@few_examples
@given(st.data(), dims, dims)
def test_batchnorm_train_output_of_an_example_depends_on_the_rest_of_the_batch(data, N, D):
    # The same example, once the smallest value of every feature in its batch and once the
    # largest: its normalised values are negative in the first batch and positive in the second
    # (|xhat| >= 1 / sqrt(N - 1) for an extreme value), so its output must differ.
    example = data.draw(vector(D, values))
    gamma, beta = data.draw(vector(D, gammas)), data.draw(vector(D, values))
    gaps = data.draw(matrix(N - 1, D, st.floats(1e-1, 100)))
    above = batchnorm(np.vstack([example, example + gaps]), gamma, beta)[0]
    below = batchnorm(np.vstack([example, example - gaps]), gamma, beta)[0]
    assert np.all((above - beta) * np.sign(gamma) < 0), "example below the rest: xhat must be < 0"
    assert np.all((below - beta) * np.sign(gamma) > 0), "example above the rest: xhat must be > 0"
    assert np.all(np.abs(above - below) >= 2 * np.abs(gamma) / np.sqrt(N - 1) * (1 - TOL))
