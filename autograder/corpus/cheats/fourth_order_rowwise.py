"""Numerical differentiation, not a derivation: fourth-order central differences (the five-point
stencil), a whole row (batch norm) or a whole column (layer norm) at a time.

Batch norm's features are independent, so moving all of example i at once (each feature by h
times its standard deviation) gives row i of dx from four forward calls: 4N forward calls per
backward call. Layer norm's examples are independent, so moving feature j of every example at
once gives column j of dx: 4D forward calls. dgamma and dbeta use the same stencil.
batchnorm_backward_alt differences the same way, written differently (not a textual copy of
batchnorm_backward). dx error 4e-13..3e-12 on centred inputs
(benchmarks/numerical_backward_cost.py, error relative to the terms of dx)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

# the fourth-order central difference quotient: offsets of the step and their weights
OFFSETS, WEIGHTS = (-2.0, -1.0, 1.0, 2.0), (1 / 12, -8 / 12, 8 / 12, -1 / 12)
STEP = 1e-3  # in units of the standard deviation

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


def _derivative(f, h):
    """sum_k w_k f(offset_k * h) / h: the stencil applied to f(step) -> array."""
    return sum(w * f(o * h) for o, w in zip(OFFSETS, WEIGHTS)) / h


def _parameter_gradients(out, dout, x, gamma, beta, eps):
    dgamma = np.sum(dout * _derivative(lambda t: out(x, gamma + t, beta, eps), 1e-3), axis=0)
    dbeta = np.sum(dout * _derivative(lambda t: out(x, gamma, beta + t, eps), 1e-3), axis=0)
    return dgamma, dbeta


def _bn_numerical(dout, cache):
    x, gamma, beta, eps = cache
    N, D = x.shape
    std = np.sqrt(x.var(axis=0) + eps)

    def moved_row(i, t):
        moved = x.copy()
        moved[i] += t * std
        return _bn_out(moved, gamma, beta, eps)

    dx = np.zeros_like(x)
    for i in range(N):
        dx[i] = np.sum(dout * _derivative(lambda t: moved_row(i, t), STEP), axis=0) / std
    return (dx,) + _parameter_gradients(_bn_out, dout, x, gamma, beta, eps)


def batchnorm_backward(dout, cache):
    return _bn_numerical(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_numerical(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    N, D = x.shape
    std = np.sqrt(x.var(axis=1) + eps)

    def moved_column(j, t):
        moved = x.copy()
        moved[:, j] += t * std
        return _ln_out(moved, gamma, beta, eps)

    dx = np.zeros_like(x)
    for j in range(D):
        dx[:, j] = np.sum(dout * _derivative(lambda t: moved_column(j, t), STEP), axis=1) / std
    return (dx,) + _parameter_gradients(_ln_out, dout, x, gamma, beta, eps)
