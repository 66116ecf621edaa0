"""An honest student who leaves debugging output in: every function prints shapes to stdout and
stderr and raises a warnings.warn; the maths is right, so every part keeps full marks."""
import sys
import warnings

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    print("batchnorm_forward", mode, x.shape)
    print("DEBUG eps", eps, "momentum", momentum, file=sys.stderr)

    out, cache = None, None
    if mode == "train":
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        if np.any(var < eps):
            warnings.warn("some features have a variance below eps")
        std = np.sqrt(var + eps)
        xhat = (x - mean) / std
        out = gamma * xhat + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        warnings.warn("test mode: using running averages", RuntimeWarning)
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    print("batchnorm_backward dout", dout.shape, file=sys.stderr)
    warnings.warn("check me against the numerical gradient")
    N = dout.shape[0]
    dxhat = dout * gamma
    dvar = -0.5 * (dxhat * xhat).sum(axis=0) / std**2
    dxc = dxhat / std + dvar * 2 * xhat * std / N
    dx = dxc - dxc.mean(axis=0)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache
    print("alt", file=sys.stderr)
    warnings.warn("alt backward", UserWarning)
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    return gamma / (N * std) * (N * dout - dbeta - xhat * dgamma), dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    print("layernorm_forward", x.shape, ln_param, file=sys.stderr)
    warnings.warn("layer norm: no running statistics")
    mu = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mu) / std
    return gamma * xhat + beta, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    print("layernorm_backward", dout.shape)
    sys.stderr.write("layernorm_backward running\n")
    warnings.warn("layernorm_backward", DeprecationWarning)
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=1, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
