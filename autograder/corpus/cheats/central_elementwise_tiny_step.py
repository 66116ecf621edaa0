"""Numerical differentiation, not a derivation: central differences, one element at a time, with
a tiny step (1e-9 standard deviations, x centred first), so rounding rather than truncation
dominates.

The forward passes are correct and cache x, gamma, beta and eps. Each backward pass moves one
entry x[i, j] by +h and -h, runs the student's own forward pass on both and takes sum(dout *
(f(x + h e_ij) - f(x - h e_ij))) / (2h): 2 * N * D forward calls. dgamma and dbeta are central
differences with all of gamma (beta) moved at once. batchnorm_backward_alt differences the same
way, written differently (not a textual copy of batchnorm_backward). dx error 3e-7..2e-6
(benchmarks/numerical_backward_cost.py, error relative to the terms of dx): today's 1e-6 tests
still pass (their inputs give less); the training replay (plain SGD) reproduces the reference's
losses to about 1e-8."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-9

def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    cache = None
    if mode == "train":
        mu = x.mean(axis=0)
        centred = x - mu
        var = (centred * centred).mean(axis=0)
        out = gamma * centred / np.sqrt(var + eps) + beta
        cache = (x.copy(), gamma.copy(), beta.copy(), eps)  # enough to run the forward pass again
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    centred = x - mu
    var = (centred * centred).mean(axis=1, keepdims=True)
    out = gamma * centred / np.sqrt(var + eps) + beta
    return out, (x.copy(), gamma.copy(), beta.copy(), eps)


def _bn_out(x, gamma, beta, eps):
    return batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})[0]


def _ln_out(x, gamma, beta, eps):
    return layernorm_forward(x, gamma, beta, {"eps": eps})[0]


def _central(out, dout, x, gamma, beta, eps, scale):
    """dx one element at a time; scale(i, j) is the step's unit for entry (i, j)."""
    N, D = x.shape
    dx = np.zeros_like(x)
    for i in range(N):
        for j in range(D):
            plus, minus = x.copy(), x.copy()
            plus[i, j] += STEP * scale(i, j)
            minus[i, j] -= STEP * scale(i, j)
            dx[i, j] = np.sum(dout * (out(plus, gamma, beta, eps) - out(minus, gamma, beta, eps))) \
                / (plus[i, j] - minus[i, j])
    h = np.maximum(1.0, np.abs(gamma)) * 1e-6
    dgamma = np.sum(dout * (out(x, gamma + h, beta, eps) - out(x, gamma - h, beta, eps)), axis=0) / (2 * h)
    h = np.maximum(1.0, np.abs(beta)) * 1e-6
    dbeta = np.sum(dout * (out(x, gamma, beta + h, eps) - out(x, gamma, beta - h, eps)), axis=0) / (2 * h)
    return dx, dgamma, dbeta


def batchnorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=0)  # shift invariant: small steps survive rounding better at mean 0
    std = np.sqrt(x.var(axis=0) + eps)
    return _central(_bn_out, dout, x, gamma, beta, eps, lambda i, j: std[j])


def batchnorm_backward_alt(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=0)
    spread = np.sqrt(x.var(axis=0) + eps)
    dx, dgamma, dbeta = _central(_bn_out, dout, x, gamma, beta, eps, lambda i, j: spread[j])
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=1, keepdims=True)  # shift invariant
    std = np.sqrt(x.var(axis=1) + eps)
    return _central(_ln_out, dout, x, gamma, beta, eps, lambda i, j: std[i])
