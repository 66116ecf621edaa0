"""Batch norm always uses eps = 1e-5 and ignores bn_param["eps"]; the backward passes inherit
the wrong standard deviation from the cache."""
import numpy as np

EXPECT = {"batchnorm_forward": "loses", "batchnorm_backward": "loses", "batchnorm_backward_alt": "loses"}

EPS = 1e-5


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        m = x.mean(axis=0)
        v = ((x - m) ** 2).mean(axis=0)
        s = np.sqrt(v + EPS)
        xn = (x - m) / s
        out = gamma * xn + beta
        cache = (xn, s, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * m
        running_var = momentum * running_var + (1 - momentum) * v
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + EPS) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xn, s, gamma = cache
    N = xn.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dxn = dout * gamma
    ds = -(dxn * xn).sum(axis=0) / s
    dv = ds / (2 * s)
    dxc = dxn / s + 2 * xn * s * dv / N
    dx = dxc - dxc.sum(axis=0) / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xn, s, gamma = cache
    N = xn.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xn).sum(axis=0)
    dx = gamma / (N * s) * (N * dout - dbeta - xn * dgamma)
    return dx, dgamma, dbeta
