"""Numerical differentiation, not a derivation: forward differences, one element at a time.

The forward passes are correct and cache x, gamma, beta and eps. Every backward pass runs the
student's own forward pass again with one entry x[i, j] moved by a step h (scaled to the
feature's / example's standard deviation, x centred first: the normalisations are shift
invariant and small steps survive rounding better at mean 0) and takes sum(dout * (f(x + h e_ij)
- f(x))) / h: N * D extra forward calls per backward call. dgamma and dbeta are forward
differences too (all of gamma, resp. beta, moved at once: output column j depends on gamma[j]
and beta[j] only). batchnorm_backward_alt differences the same way, written differently (not a
textual copy of batchnorm_backward). dx error 4e-8..3e-7 (benchmarks/numerical_backward_cost.py,
error relative to the terms of dx): today's 1e-6 tests pass, and the training replay (plain SGD)
reproduces the reference's losses to about 1e-8."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-8  # about sqrt(machine epsilon), in units of the standard deviation

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


def _parameter_gradients(out, dout, x, gamma, beta, eps, base):
    """dgamma and dbeta by forward differences (one extra call each)."""
    h = STEP * np.maximum(1.0, np.abs(gamma))
    dgamma = np.sum(dout * (out(x, gamma + h, beta, eps) - base), axis=0) / h
    h = STEP * np.maximum(1.0, np.abs(beta))
    dbeta = np.sum(dout * (out(x, gamma, beta + h, eps) - base), axis=0) / h
    return dgamma, dbeta


def _bn_numerical(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=0)  # shift invariant: small steps survive rounding better at mean 0
    N, D = x.shape
    base = _bn_out(x, gamma, beta, eps)
    scale = np.sqrt(x.var(axis=0) + eps)
    dx = np.zeros_like(x)
    for i in range(N):
        for j in range(D):
            h = STEP * scale[j]
            moved = x.copy()
            moved[i, j] += h
            h = moved[i, j] - x[i, j]  # the step actually taken
            dx[i, j] = np.sum(dout[:, j] * (_bn_out(moved, gamma, beta, eps)[:, j] - base[:, j])) / h
    return (dx,) + _parameter_gradients(_bn_out, dout, x, gamma, beta, eps, base)


def batchnorm_backward(dout, cache):
    return _bn_numerical(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_numerical(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=1, keepdims=True)  # shift invariant
    N, D = x.shape
    base = _ln_out(x, gamma, beta, eps)
    scale = np.sqrt(x.var(axis=1) + eps)
    dx = np.zeros_like(x)
    for i in range(N):
        for j in range(D):
            moved = x.copy()
            moved[i, j] += STEP * scale[i]
            h = moved[i, j] - x[i, j]
            dx[i, j] = np.sum(dout[i] * (_ln_out(moved, gamma, beta, eps)[i] - base[i])) / h
    return (dx,) + _parameter_gradients(_ln_out, dout, x, gamma, beta, eps, base)
