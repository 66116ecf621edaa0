"""Small helper functions and a frozen dataclass as the cache object, shared by batch norm and
layer norm through an `axis` argument."""
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class NormCache:
    xhat: np.ndarray
    inv_std: np.ndarray
    gamma: np.ndarray
    axis: int

    @property
    def count(self):
        return self.xhat.shape[self.axis]


def moments(x, axis):
    mean = x.mean(axis=axis, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axis, keepdims=True)
    return mean, var


def normalise(x, gamma, beta, eps, axis):
    mean, var = moments(x, axis)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, NormCache(xhat, inv_std, gamma, axis), mean, var


def param_grads(dout, c):
    return (dout * c.xhat).sum(axis=0), dout.sum(axis=0)


def ema(old, new, momentum):
    return momentum * old + (1.0 - momentum) * new


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        out, cache, mean, var = normalise(x, gamma, beta, eps, axis=0)
        running_mean = ema(running_mean, mean.ravel(), momentum)
        running_var = ema(running_var, var.ravel(), momentum)
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    c = cache
    n = c.count
    dxhat = dout * c.gamma
    xc = c.xhat / c.inv_std
    dvar = (dxhat * xc).sum(axis=0, keepdims=True) * -0.5 * c.inv_std**3
    dxc = dxhat * c.inv_std + dvar * 2.0 * xc / n
    dx = dxc - dxc.mean(axis=0, keepdims=True)
    dgamma, dbeta = param_grads(dout, c)
    return dx, dgamma, dbeta


def _closed_form(dout, c):
    dxhat = dout * c.gamma
    a = c.axis
    return c.inv_std * (dxhat - dxhat.mean(axis=a, keepdims=True)
                        - c.xhat * (dxhat * c.xhat).mean(axis=a, keepdims=True))


def batchnorm_backward_alt(dout, cache):
    return (_closed_form(dout, cache),) + param_grads(dout, cache)


def layernorm_forward(x, gamma, beta, ln_param):
    out, cache, _, _ = normalise(x, gamma, beta, ln_param.get("eps", 1e-5), axis=1)
    return out, cache


def layernorm_backward(dout, cache):
    return (_closed_form(dout, cache),) + param_grads(dout, cache)
