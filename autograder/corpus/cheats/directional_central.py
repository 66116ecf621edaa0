"""Numerical differentiation, not a derivation: one central difference along the direction dout.

For each feature, batch norm's Jacobian d out[:, j] / d x[:, j] is symmetric, so dx = J^T dout =
J dout is a directional derivative of the forward pass along dout: two forward calls on x +- h *
dout (each column of dout scaled to its largest entry, the step h in units of the column's
standard deviation). For layer norm, d out[i] / d x[i] = diag(gamma) * S_i with S_i symmetric,
so dx = S_i (gamma * dout[i]): the same trick with the forward pass run with gamma = 1 along
gamma * dout, row by row scaled. beta is set to 0 in these calls (less rounding). x is not
centred first. dgamma and dbeta by differences in gamma and beta (the output is linear in both,
so a step of 1 is exact). Cost: a few forward calls -- as cheap as an analytic backward.
batchnorm_backward_alt differences the same way, written differently (not a textual copy of
batchnorm_backward). dx error 2e-11..1e-10 on centred inputs, 1e-8..2e-7 when the mean is 1000
standard deviations away from 0 (benchmarks/numerical_backward_cost.py, relative to the terms of
dx)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

OFFSETS, WEIGHTS = (-1.0, 1.0), (-0.5, 0.5)
STEP = 1e-5      # in units of the standard deviation
CENTRE = False   # move x to mean 0 first (both normalisations are shift invariant)

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


def _stencil(f, h):
    return sum(w * f(o * h) for o, w in zip(OFFSETS, WEIGHTS))


def _bn_numerical(dout, cache):
    x, gamma, beta, eps = cache
    N, D = x.shape
    if CENTRE:
        x = x - x.mean(axis=0)
    std = np.sqrt(x.var(axis=0) + eps)
    size = np.abs(dout).max(axis=0)
    size = np.where(size > 0, size, 1.0)
    direction = dout / size * std  # each column of dout, as large as its feature's spread

    def out(t):
        return batchnorm_forward(x + t * direction, gamma, np.zeros(D), {"mode": "train", "eps": eps})[0]

    dx = _stencil(out, STEP) / STEP * (size / std)

    def out_params(g, b):
        return batchnorm_forward(x, g, b, {"mode": "train", "eps": eps})[0]

    dgamma = np.sum(dout * (out_params(gamma + 1.0, beta) - out_params(gamma - 1.0, beta)), axis=0) / 2.0
    dbeta = np.sum(dout * (out_params(gamma, beta + 1.0) - out_params(gamma, beta - 1.0)), axis=0) / 2.0
    return dx, dgamma, dbeta


def batchnorm_backward(dout, cache):
    return _bn_numerical(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_numerical(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    N, D = x.shape
    if CENTRE:
        x = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    v = gamma * dout
    size = np.abs(v).max(axis=1, keepdims=True)
    size = np.where(size > 0, size, 1.0)
    direction = v / size * std

    def out(t):
        return layernorm_forward(x + t * direction, np.ones(D), np.zeros(D), {"eps": eps})[0]

    dx = _stencil(out, STEP) / STEP * (size / std)

    def out_params(g, b):
        return layernorm_forward(x, g, b, {"eps": eps})[0]

    dgamma = np.sum(dout * (out_params(gamma + 1.0, beta) - out_params(gamma - 1.0, beta)), axis=0) / 2.0
    dbeta = np.sum(dout * (out_params(gamma, beta + 1.0) - out_params(gamma, beta - 1.0)), axis=0) / 2.0
    return dx, dgamma, dbeta
