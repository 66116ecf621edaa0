"""Batch norm takes the mean and variance over axis 1 (each example's features) instead of
over the batch: that is layer norm, and the backward passes follow the same wrong axis."""
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
        sample_mean = np.mean(x, axis=1, keepdims=True)
        sample_var = np.var(x, axis=1, keepdims=True)
        x_norm = (x - sample_mean) / np.sqrt(sample_var + eps)
        out = gamma * x_norm + beta
        cache = (x_norm, gamma, sample_var, eps)
        running_mean = momentum * running_mean + (1 - momentum) * sample_mean.mean()
        running_var = momentum * running_var + (1 - momentum) * sample_var.mean()
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    x_norm, gamma, sample_var, eps = cache
    D = x_norm.shape[1]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_norm, axis=0)
    dx_norm = dout * gamma
    inv = 1.0 / np.sqrt(sample_var + eps)
    dvar = np.sum(dx_norm * x_norm, axis=1, keepdims=True) * -0.5 * inv**2
    dmean = -np.sum(dx_norm * inv, axis=1, keepdims=True)
    dx = dx_norm * inv + dvar * 2.0 * x_norm / inv / D + dmean / D
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    x_norm, gamma, sample_var, eps = cache
    dxn = dout * gamma
    dx = (dxn - dxn.mean(axis=1, keepdims=True)
          - x_norm * (dxn * x_norm).mean(axis=1, keepdims=True)) / np.sqrt(sample_var + eps)
    return dx, (dout * x_norm).sum(axis=0), dout.sum(axis=0)
