"""The simplified backward unpacks the cache as (xhat, gamma, std) while the forward packed
(xhat, std, gamma): gamma and the standard deviation trade places in dx."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mu = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        xhat = (x - mu) / std
        out = gamma * xhat + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dvar = -0.5 * (dxhat * xhat).sum(axis=0) / std**2
    dxc = dxhat / std + dvar * 2 * xhat * std / N
    dx = dxc - dxc.mean(axis=0)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, gamma, std = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
