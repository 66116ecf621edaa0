"""The closed form derived through the centred upstream gradient: with g = dout * gamma,
dx = (g_c - xhat * mean(g_c * xhat)) / std where g_c = g - mean(g) (mean(xhat) = 0 makes the two
projections equal)."""
import numpy as np


def _centred(a, axis):
    return a - a.mean(axis=axis, keepdims=True)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc ** 2).sum(axis=0) / N
        std = np.sqrt(var + eps)
        xhat = xc / std
        out = gamma * xhat + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    # graph: out <- xhat <- (xc, std) <- var <- xc <- x
    xhat, std, gamma = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    dstd = -(dxhat * xhat).sum(axis=0) / std          # d/dstd of xc / std
    dvar = dstd / (2.0 * std)
    dxc = dxhat / std + dvar * 2.0 * (xhat * std) / N
    dx = _centred(dxc, 0)                              # the path through the mean
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache
    g_c = _centred(dout * gamma, 0)
    dx = (g_c - xhat * (g_c * xhat).mean(axis=0)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xc = _centred(x, 1)
    std = np.sqrt((xc ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = xc / std
    return gamma * xhat + beta, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    g_c = _centred(dout * gamma, 1)
    dx = (g_c - xhat * (g_c * xhat).mean(axis=1, keepdims=True)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
