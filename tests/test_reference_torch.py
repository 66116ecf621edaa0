"""The reference implementations agree with PyTorch (autograd) in float64.

PyTorch is the oracle: F.batch_norm in training and eval mode, F.layer_norm, with gradients
from autograd for the same upstream gradient. Differences in convention are converted, never
papered over: torch's momentum m_t is the weight of the new batch (ours is 1 - m_t), and torch
keeps the *unbiased* batch variance in its running average (with a zero start and a fixed
batch size N, ours is (N - 1) / N times torch's).
"""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder import reference

TOL = 1e-10
SHAPES = [(2, 3), (7, 7), (64, 5), (3, 200)]
EPS = [1e-5, 1e-3, 1e-1]
SCALES = [1e-2, 1.0, 1e3]
BATCHNORM_BACKWARDS = ["batchnorm_backward", "batchnorm_backward_alt"]


def rel_error(a, b, scale=0.0):
    """max|a - b| relative to max|a| + max|b| (or to `scale`, the size of the terms that
    make up the result, when that is larger)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    assert a.shape == b.shape, f"shapes differ: {a.shape} vs {b.shape}"
    return np.abs(a - b).max() / max(np.abs(a).max() + np.abs(b).max(), scale, 1e-300)


def make_inputs(shape, scale, seed):
    """x with per-feature offsets (so the mean matters), gamma near 1, beta small: non-trivial."""
    rng = np.random.default_rng(seed)
    N, D = shape
    x = scale * (rng.standard_normal((N, D)) + 3.0 * rng.standard_normal(D))
    gamma = 1.0 + 0.5 * rng.standard_normal(D)
    beta = 0.5 * rng.standard_normal(D)
    dout = rng.standard_normal((N, D))
    return x, gamma, beta, dout


def torch_forward_backward(norm, x, gamma, beta, dout):
    """Run `norm(tx, tgamma, tbeta)` and autograd; return numpy out, dx, dgamma, dbeta."""
    tx, tgamma, tbeta = (torch.tensor(a, requires_grad=True) for a in (x, gamma, beta))
    out = norm(tx, tgamma, tbeta)
    out.backward(torch.tensor(dout))
    return out.detach().numpy(), tx.grad.numpy(), tgamma.grad.numpy(), tbeta.grad.numpy()


def dx_scale(dout, gamma, std):
    """Size of the terms that cancel in dx: it is gamma / std * (dout - two projections of dout).
    With N = 2 and eps << var the true dx is nearly zero and every implementation returns
    rounding noise of this size, so dx is compared relative to it."""
    return np.abs(dout * gamma / std).max()


def assert_close(name, ours, theirs, scale=0.0):
    err = rel_error(ours, theirs, scale)
    assert ours.shape == theirs.shape, f"{name}: shape {ours.shape}, torch {theirs.shape}"
    assert ours.dtype == np.float64, f"{name}: dtype {ours.dtype}"
    assert err <= TOL, f"{name}: relative error {err:.2e} against torch (allowed {TOL:.0e})"


@pytest.mark.parametrize("backward", BATCHNORM_BACKWARDS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_train_matches_torch_autograd(shape, eps, scale, backward):
    x, gamma, beta, dout = make_inputs(shape, scale, seed=sum(shape))
    out, cache = reference.batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})
    dx, dgamma, dbeta = getattr(reference, backward)(dout, cache)

    def norm(tx, tgamma, tbeta):
        return F.batch_norm(tx, None, None, tgamma, tbeta, training=True, eps=eps)

    t_out, t_dx, t_dgamma, t_dbeta = torch_forward_backward(norm, x, gamma, beta, dout)
    assert_close("out", out, t_out)
    assert_close("dx", dx, t_dx, scale=dx_scale(dout, gamma, np.sqrt(x.var(axis=0) + eps)))
    assert_close("dgamma", dgamma, t_dgamma)
    assert_close("dbeta", dbeta, t_dbeta)


@pytest.mark.parametrize("momentum", [0.9, 0.5, 0.99])
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_running_statistics_match_torch_over_several_steps(shape, momentum):
    N, D = shape
    rng = np.random.default_rng(N * D)
    bn_param = {"mode": "train", "momentum": momentum, "eps": 1e-4}
    t_mean = torch.zeros(D, dtype=torch.float64)
    t_var = torch.zeros(D, dtype=torch.float64)
    for step in range(5):
        x, gamma, beta, _ = make_inputs(shape, scale=10.0 ** (step - 2), seed=int(rng.integers(1 << 30)))
        out, _ = reference.batchnorm_forward(x, gamma, beta, bn_param)
        t_out = F.batch_norm(torch.tensor(x), t_mean, t_var, torch.tensor(gamma),
                             torch.tensor(beta), training=True, momentum=1 - momentum, eps=1e-4)
        assert_close(f"out at step {step}", out, t_out.numpy())
        assert_close(f"running_mean after step {step}", bn_param["running_mean"], t_mean.numpy())
        # torch averages the unbiased variance; ours the biased one: a factor (N - 1) / N
        assert_close(f"running_var after step {step}", bn_param["running_var"],
                     (N - 1) / N * t_var.numpy())


@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("shape", SHAPES)
def test_batchnorm_test_mode_matches_torch_eval(shape, scale, eps):
    x, gamma, beta, _ = make_inputs(shape, scale, seed=7 * sum(shape))
    rng = np.random.default_rng(1)
    running_mean = x.mean(axis=0) + scale * rng.standard_normal(shape[1])
    running_var = scale**2 * rng.uniform(0.5, 2.0, shape[1])
    bn_param = {"mode": "test", "eps": eps, "running_mean": running_mean, "running_var": running_var}
    out, _ = reference.batchnorm_forward(x, gamma, beta, bn_param)
    t_out = F.batch_norm(torch.tensor(x), torch.tensor(running_mean), torch.tensor(running_var),
                         torch.tensor(gamma), torch.tensor(beta), training=False, eps=eps)
    assert_close("out", out, t_out.numpy())


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("eps", EPS)
@pytest.mark.parametrize("shape", SHAPES)
def test_layernorm_matches_torch_autograd(shape, eps, scale):
    x, gamma, beta, dout = make_inputs(shape, scale, seed=3 * sum(shape))
    out, cache = reference.layernorm_forward(x, gamma, beta, {"eps": eps})
    dx, dgamma, dbeta = reference.layernorm_backward(dout, cache)

    def norm(tx, tgamma, tbeta):
        return F.layer_norm(tx, (shape[1],), tgamma, tbeta, eps=eps)

    t_out, t_dx, t_dgamma, t_dbeta = torch_forward_backward(norm, x, gamma, beta, dout)
    assert_close("out", out, t_out)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    assert_close("dx", dx, t_dx, scale=dx_scale(dout, gamma, std))
    assert_close("dgamma", dgamma, t_dgamma)
    assert_close("dbeta", dbeta, t_dbeta)
