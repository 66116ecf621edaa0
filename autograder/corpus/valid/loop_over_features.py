"""Slow but honest: the backward passes walk the features (columns) one at a time in a Python
loop, vectorised only over the examples. Batch norm's forward pass is vectorised; its graph
backward goes node by node for one column at a time and its closed form is one line per
column. Layer norm's forward pass is vectorised; its backward pass accumulates each example's
two sums (of dxhat and of dxhat * xhat) feature by feature, then writes dx column by column."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    out, cache = None, None
    if mode == "train":
        mean = x.mean(axis=0)
        xc = x - mean
        var = (xc ** 2).mean(axis=0)
        std = np.sqrt(var + eps)
        out = gamma * xc / std + beta
        cache = (xc, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xc, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.empty((N, D)), np.empty(D), np.empty(D)
    for j in range(D):
        g, c, s = dout[:, j], xc[:, j], std[j]
        dbeta[j] = g.sum()
        dgamma[j] = (g * c).sum() / s
        dxhat = g * gamma[j]
        dinv_std = (dxhat * c).sum()       # xhat = xc * (1 / std)
        dstd = -dinv_std / s**2
        dvar = 0.5 * dstd / s              # std = sqrt(var + eps)
        dxc = dxhat / s + 2.0 * c * dvar / N
        dx[:, j] = dxc - dxc.sum() / N     # xc = x - mean
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xc, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.empty((N, D)), np.empty(D), np.empty(D)
    for j in range(D):
        g, xhat = dout[:, j], xc[:, j] / std[j]
        dbeta[j] = g.sum()
        dgamma[j] = (g * xhat).sum()
        dx[:, j] = gamma[j] / (N * std[j]) * (N * g - dbeta[j] - xhat * dgamma[j])
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mean) / std
    return gamma * xhat + beta, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    total, projection = np.zeros((N, 1)), np.zeros((N, 1))
    dgamma, dbeta = np.empty(D), np.empty(D)
    for j in range(D):
        dxhat = dout[:, j:j + 1] * gamma[j]
        total += dxhat
        projection += dxhat * xhat[:, j:j + 1]
        dgamma[j] = (dout[:, j] * xhat[:, j]).sum()
        dbeta[j] = dout[:, j].sum()
    dx = np.empty((N, D))
    for j in range(D):
        dx[:, j:j + 1] = (dout[:, j:j + 1] * gamma[j] - total / D - xhat[:, j:j + 1] * projection / D) / std
    return dx, dgamma, dbeta
