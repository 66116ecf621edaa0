"""The reference implementations: gradients against central differences, and the contract of
SPEC section 2 (defaults, modes, untouched inputs, shapes, dtypes)."""

import copy

import numpy as np
import pytest

from autograder import reference

SHAPES = [(6, 4), (5, 5), (3, 7)]
BATCHNORM_BACKWARDS = ["batchnorm_backward", "batchnorm_backward_alt"]


def rel_error(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), 1e-300)


def make_inputs(shape, seed=0, dtype=np.float64, scale=1.0):
    rng = np.random.default_rng(seed)
    N, D = shape
    x = scale * (rng.standard_normal((N, D)) + 2.0 * rng.standard_normal(D))
    gamma = 1.0 + 0.5 * rng.standard_normal(D)
    beta = 0.5 * rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    return tuple(a.astype(dtype) for a in (x, gamma, beta, dout))


def numerical_gradient(loss, array, h=1e-5):
    """Central differences of the scalar loss() with respect to every entry of array (in place)."""
    grad = np.zeros_like(array)
    for i in np.ndindex(array.shape):
        old = array[i]
        array[i] = old + h
        plus = loss()
        array[i] = old - h
        minus = loss()
        array[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def batchnorm_train(x, gamma, beta, eps=1e-3):
    return reference.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})


def layernorm(x, gamma, beta, eps=1e-3):
    return reference.layernorm_forward(x, gamma, beta, {"eps": eps})


CASES = [(batchnorm_train, name) for name in BATCHNORM_BACKWARDS]
CASES.append((layernorm, "layernorm_backward"))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("forward, backward", CASES, ids=[b for _, b in CASES])
def test_backward_matches_numerical_gradient(forward, backward, shape):
    x, gamma, beta, dout = make_inputs(shape, seed=sum(shape))
    _, cache = forward(x, gamma, beta)
    grads = getattr(reference, backward)(dout, cache)

    def loss():
        return np.sum(forward(x, gamma, beta)[0] * dout)

    for name, array, grad in zip(["dx", "dgamma", "dbeta"], [x, gamma, beta], grads):
        err = rel_error(grad, numerical_gradient(loss, array))
        assert err <= 1e-8, f"{backward}: {name} has relative error {err:.1e}"


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e3])
@pytest.mark.parametrize("shape", [(3, 5), (10, 10), (50, 3)])
def test_batchnorm_backward_versions_agree(shape, scale):
    x, gamma, beta, dout = make_inputs(shape, seed=1, scale=scale)
    _, cache = batchnorm_train(x, gamma, beta, eps=1e-5)
    graph = reference.batchnorm_backward(dout, cache)
    closed_form = reference.batchnorm_backward_alt(dout, cache)
    for name, a, b in zip(["dx", "dgamma", "dbeta"], graph, closed_form):
        assert rel_error(a, b) <= 1e-12, f"{name} differs between the two backward versions"


def run_everything(x, gamma, beta, dout, bn_param):
    """Call every function once, in the order a training step would."""
    _, cache = reference.batchnorm_forward(x, gamma, beta, bn_param)
    grads = reference.batchnorm_backward(dout, cache)
    grads += reference.batchnorm_backward_alt(dout, cache)
    reference.batchnorm_forward(x, gamma, beta, dict(bn_param, mode="test"))
    _, cache = reference.layernorm_forward(x, gamma, beta, {})
    grads += reference.layernorm_backward(dout, cache)
    return grads


def test_no_function_modifies_its_input_arrays():
    x, gamma, beta, dout = make_inputs((6, 4))
    running_mean, running_var = np.full(4, 0.5), np.full(4, 2.0)
    bn_param = {"mode": "train", "running_mean": running_mean, "running_var": running_var}
    before = copy.deepcopy((x, gamma, beta, dout, running_mean, running_var))
    run_everything(x, gamma, beta, dout, bn_param)
    after = (x, gamma, beta, dout, running_mean, running_var)
    names = ["x", "gamma", "beta", "dout", "the running_mean passed in", "the running_var passed in"]
    for name, old, new in zip(names, before, after):
        assert np.array_equal(old, new), f"{name} was modified"


@pytest.mark.parametrize("forward, backward", CASES, ids=[b for _, b in CASES])
def test_backward_leaves_the_cache_unchanged_and_can_run_twice(forward, backward):
    x, gamma, beta, dout = make_inputs((6, 4))
    _, cache = forward(x, gamma, beta)
    cache_before = copy.deepcopy(cache)
    first = getattr(reference, backward)(dout, cache)
    second = getattr(reference, backward)(dout, cache)
    for old, new in zip(cache_before, cache):
        assert np.array_equal(old, new), "the cache was modified by the backward pass"
    for a, b in zip(first, second):
        assert np.array_equal(a, b)


def test_batchnorm_train_stores_new_running_arrays_in_bn_param():
    x, gamma, beta, _ = make_inputs((6, 4))
    running_mean, running_var = np.full(4, 0.5), np.full(4, 2.0)
    bn_param = {"mode": "train", "momentum": 0.8, "running_mean": running_mean, "running_var": running_var}
    reference.batchnorm_forward(x, gamma, beta, bn_param)
    assert np.allclose(bn_param["running_mean"], 0.8 * 0.5 + 0.2 * x.mean(axis=0), rtol=1e-14)
    assert np.allclose(bn_param["running_var"], 0.8 * 2.0 + 0.2 * x.var(axis=0), rtol=1e-14)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    x, gamma, beta, dout = make_inputs((6, 4), dtype=dtype)
    bn_param = {"mode": "train"}
    out, cache = reference.batchnorm_forward(x, gamma, beta, bn_param)
    results = {"batchnorm_forward out": out,
               "running_mean": bn_param["running_mean"], "running_var": bn_param["running_var"]}
    for backward in BATCHNORM_BACKWARDS:
        results.update(zip([f"{backward} {g}" for g in ("dx", "dgamma", "dbeta")],
                           getattr(reference, backward)(dout, cache)))
    results["batchnorm_forward test-mode out"] = reference.batchnorm_forward(
        x, gamma, beta, dict(bn_param, mode="test"))[0]
    out, cache = reference.layernorm_forward(x, gamma, beta, {})
    results["layernorm_forward out"] = out
    results.update(zip(["layernorm dx", "layernorm dgamma", "layernorm dbeta"],
                       reference.layernorm_backward(dout, cache)))
    for name, array in results.items():
        assert array.dtype == dtype, f"{name} has dtype {array.dtype}, expected {np.dtype(dtype)}"


@pytest.mark.parametrize("shape", [(1, 5), (2, 3), (7, 7), (64, 5), (3, 200)])
def test_outputs_and_gradients_have_the_shapes_of_their_inputs(shape):
    x, gamma, beta, dout = make_inputs(shape)
    N, D = shape
    # batch norm needs two examples to have a variance; layer norm is fine with one
    forwards = [(layernorm, "layernorm_backward")] + (CASES[:2] if N > 1 else [])
    for forward, backward in forwards:
        out, cache = forward(x, gamma, beta)
        dx, dgamma, dbeta = getattr(reference, backward)(dout, cache)
        assert out.shape == (N, D) and dx.shape == (N, D), backward
        assert dgamma.shape == (D,) and dbeta.shape == (D,), backward


def test_batchnorm_defaults_are_eps_1e_5_momentum_0_9_and_zero_running_statistics():
    # small variance (about 1e-4) so that eps = 1e-5 visibly changes the output
    x, gamma, beta, _ = make_inputs((8, 3), scale=1e-2)
    bn_param = {"mode": "train"}
    out, _ = reference.batchnorm_forward(x, gamma, beta, bn_param)
    expected = gamma * (x - x.mean(axis=0)) / np.sqrt(x.var(axis=0) + 1e-5) + beta
    assert rel_error(out, expected) <= 1e-12
    assert rel_error(bn_param["running_mean"], 0.1 * x.mean(axis=0)) <= 1e-12
    assert rel_error(bn_param["running_var"], 0.1 * x.var(axis=0)) <= 1e-12

    out, _ = reference.batchnorm_forward(x, gamma, beta, {"mode": "test"})
    assert rel_error(out, gamma * x / np.sqrt(1e-5) + beta) <= 1e-12


def test_layernorm_default_eps_is_1e_5():
    x, gamma, beta, _ = make_inputs((3, 8), scale=1e-2)
    out, _ = reference.layernorm_forward(x, gamma, beta, {})
    mean, var = x.mean(axis=1, keepdims=True), x.var(axis=1, keepdims=True)
    assert rel_error(out, gamma * (x - mean) / np.sqrt(var + 1e-5) + beta) <= 1e-12


@pytest.mark.parametrize("mode", ["eval", "Train", "training", "", None])
def test_batchnorm_invalid_mode_raises_value_error(mode):
    x, gamma, beta, _ = make_inputs((6, 4))
    with pytest.raises(ValueError, match="mode"):
        reference.batchnorm_forward(x, gamma, beta, {"mode": mode})


def test_batchnorm_test_mode_does_not_update_running_statistics():
    x, gamma, beta, _ = make_inputs((6, 4))
    bn_param = {"mode": "test", "running_mean": np.full(4, 0.5), "running_var": np.full(4, 2.0)}
    for _ in range(3):
        out, _ = reference.batchnorm_forward(x, gamma, beta, bn_param)
    assert np.array_equal(bn_param["running_mean"], np.full(4, 0.5))
    assert np.array_equal(bn_param["running_var"], np.full(4, 2.0))
    assert rel_error(out, gamma * (x - 0.5) / np.sqrt(2.0 + 1e-5) + beta) <= 1e-12
