"""Running statistics through bn_param.setdefault: the zero arrays are put into bn_param on the
first call and replaced by new arrays after each training step."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.setdefault("eps", 1e-5)
    momentum = bn_param.setdefault("momentum", 0.9)
    N, D = x.shape
    bn_param.setdefault("running_mean", np.zeros(D, dtype=x.dtype))
    bn_param.setdefault("running_var", np.zeros(D, dtype=x.dtype))

    if mode == "train":
        mean = np.sum(x, axis=0) / N
        var = np.sum((x - mean) ** 2, axis=0) / N
        xhat = (x - mean) / np.sqrt(var + eps)
        out = xhat * gamma + beta
        cache = (x, xhat, mean, var, gamma, eps)
        bn_param["running_mean"] = momentum * bn_param["running_mean"] + (1 - momentum) * mean
        bn_param["running_var"] = momentum * bn_param["running_var"] + (1 - momentum) * var
        return out, cache
    if mode == "test":
        xhat = (x - bn_param["running_mean"]) / np.sqrt(bn_param["running_var"] + eps)
        return xhat * gamma + beta, None
    raise ValueError('Invalid forward batchnorm mode "%s"' % mode)


def batchnorm_backward(dout, cache):
    x, xhat, mean, var, gamma, eps = cache
    N = x.shape[0]
    inv = (var + eps) ** -0.5
    dxhat = dout * gamma
    dvar = np.sum(dxhat * (x - mean), axis=0) * (-0.5) * inv**3
    dmean = np.sum(-dxhat * inv, axis=0) + dvar * np.sum(-2 * (x - mean), axis=0) / N
    dx = dxhat * inv + dvar * 2 * (x - mean) / N + dmean / N
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batchnorm_backward_alt(dout, cache):
    x, xhat, mean, var, gamma, eps = cache
    N = x.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = (gamma / np.sqrt(var + eps) / N) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.setdefault("eps", 1e-5)
    D = x.shape[1]
    mean = np.sum(x, axis=1, keepdims=True) / D
    var = np.sum((x - mean) ** 2, axis=1, keepdims=True) / D
    xhat = (x - mean) / np.sqrt(var + eps)
    return xhat * gamma + beta, (xhat, var, gamma, eps)


def layernorm_backward(dout, cache):
    xhat, var, gamma, eps = cache
    D = xhat.shape[1]
    dxhat = dout * gamma
    dx = (D * dxhat - np.sum(dxhat, axis=1, keepdims=True)
          - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True)) / (D * np.sqrt(var + eps))
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
