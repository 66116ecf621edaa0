"""Slow but honest: every function walks the examples (rows) one at a time in a Python loop,
vectorised only over the other axis. Batch norm's forward pass accumulates the mean and then
the variance row by row; its backward passes accumulate the column sums they need row by row
(the graph version through dvar and dmean, the closed form through dgamma and dbeta) and then
write dx one row at a time. Layer norm normalises and differentiates each example in turn."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    out = np.empty((N, D))
    cache = None
    if mode == "train":
        mean = np.zeros(D)
        for i in range(N):
            mean += x[i]
        mean /= N
        var = np.zeros(D)
        for i in range(N):
            diff = x[i] - mean
            var += diff * diff
        var /= N
        std = np.sqrt(var + eps)
        xhat = np.empty((N, D))
        for i in range(N):
            xhat[i] = (x[i] - mean) / std
            out[i] = gamma * xhat[i] + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        scale = gamma / np.sqrt(running_var + eps)
        for i in range(N):
            out[i] = (x[i] - running_mean) * scale + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dbeta, dgamma, dvar = np.zeros(D), np.zeros(D), np.zeros(D)
    for i in range(N):
        dbeta += dout[i]
        dgamma += dout[i] * xhat[i]
        # xhat = (x - mean) / std with std = sqrt(var + eps): d xhat / d var = -xc / (2 std^3)
        dvar += dout[i] * gamma * (xhat[i] * std) * (-0.5 / std**3)
    dmean = np.zeros(D)
    for i in range(N):
        # mean reaches xhat directly (-1 / std) and through var (d var / d mean = -2 mean(xc))
        dmean += -dout[i] * gamma / std + dvar * (-2.0 * xhat[i] * std) / N
    dx = np.empty((N, D))
    for i in range(N):
        dx[i] = dout[i] * gamma / std + dvar * 2.0 * (xhat[i] * std) / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dbeta, dgamma = np.zeros(D), np.zeros(D)
    for i in range(N):
        dbeta += dout[i]
        dgamma += dout[i] * xhat[i]
    dx = np.empty((N, D))
    for i in range(N):
        dx[i] = gamma / (N * std) * (N * dout[i] - dbeta - xhat[i] * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    N, D = x.shape
    out, xhat, std = np.empty((N, D)), np.empty((N, D)), np.empty(N)
    for i in range(N):
        row = x[i]
        mu = row.mean()
        std[i] = np.sqrt(((row - mu) ** 2).mean() + eps)
        xhat[i] = (row - mu) / std[i]
        out[i] = gamma * xhat[i] + beta
    return out, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dx = np.empty((N, D))
    dgamma, dbeta = np.zeros(D), np.zeros(D)
    for i in range(N):
        dxhat = dout[i] * gamma
        dx[i] = (dxhat - dxhat.mean() - xhat[i] * (dxhat * xhat[i]).mean()) / std[i]
        dgamma += dout[i] * xhat[i]
        dbeta += dout[i]
    return dx, dgamma, dbeta
