"""Batch norm adds eps after taking the square root (sqrt(var) + eps instead of sqrt(var + eps));
the backward passes use that standard deviation, so they are wrong too."""
import numpy as np

EXPECT = {"batchnorm_forward": "loses", "batchnorm_backward": "loses", "batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mu = np.mean(x, axis=0)
        var = np.mean((x - mu) ** 2, axis=0)
        std = np.sqrt(var) + eps
        xhat = (x - mu) / std
        out = gamma * xhat + beta
        cache = (x, mu, std, xhat, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    x, mu, std, xhat, gamma = cache
    N = x.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dstd = np.sum(dxhat * (x - mu), axis=0) * -1.0 / std**2
    dvar = dstd * 0.5 / np.sqrt(np.mean((x - mu) ** 2, axis=0) + 1e-12)
    dxmu = dxhat / std + 2.0 * (x - mu) * dvar / N
    dmu = -np.sum(dxmu, axis=0)
    dx = dxmu + dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    x, mu, std, xhat, gamma = cache
    N = x.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / (N * std) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
