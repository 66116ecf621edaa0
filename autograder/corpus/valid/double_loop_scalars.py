"""Slow but honest, written like C: every function is a double Python loop over examples and
features, one scalar at a time. The forward passes compute each mean and variance in one
pass from the running sums of x and x * x (var = E[x^2] - E[x]^2, mathematically right though
it loses digits when the mean is large compared with the spread); the backward passes
accumulate the sums they need and then write dx entry by entry."""
import math

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    out = np.zeros((N, D))
    cache = None
    if mode == "train":
        mean, var, xhat = np.zeros(D), np.zeros(D), np.zeros((N, D))
        for j in range(D):
            s, ss = 0.0, 0.0
            for i in range(N):
                s += x[i, j]
                ss += x[i, j] * x[i, j]
            mean[j] = s / N
            var[j] = ss / N - mean[j] * mean[j]
        std = np.zeros(D)
        for j in range(D):
            std[j] = math.sqrt(var[j] + eps)
            for i in range(N):
                xhat[i, j] = (x[i, j] - mean[j]) / std[j]
                out[i, j] = gamma[j] * xhat[i, j] + beta[j]
        cache = (xhat, std, gamma)
        new_mean, new_var = np.zeros(D), np.zeros(D)
        for j in range(D):
            new_mean[j] = momentum * running_mean[j] + (1 - momentum) * mean[j]
            new_var[j] = momentum * running_var[j] + (1 - momentum) * var[j]
        running_mean, running_var = new_mean, new_var
    elif mode == "test":
        for j in range(D):
            scale = gamma[j] / math.sqrt(running_var[j] + eps)
            for i in range(N):
                out[i, j] = (x[i, j] - running_mean[j]) * scale + beta[j]
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for j in range(D):
        dvar = 0.0   # through std = sqrt(var + eps): d xhat / d var = -xhat / (2 (var + eps))
        dmean = 0.0  # directly: d xhat / d mean = -1 / std
        for i in range(N):
            dbeta[j] += dout[i, j]
            dgamma[j] += dout[i, j] * xhat[i, j]
            dxhat = dout[i, j] * gamma[j]
            dvar += dxhat * xhat[i, j] * -0.5 / (std[j] * std[j])
            dmean += -dxhat / std[j]
        # (the path mean -> var adds dvar * (-2 / N) * sum(x - mean), which is 0)
        for i in range(N):
            dxhat = dout[i, j] * gamma[j]
            dx[i, j] = dxhat / std[j] + dvar * 2.0 * xhat[i, j] * std[j] / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for j in range(D):
        for i in range(N):
            dbeta[j] += dout[i, j]
            dgamma[j] += dout[i, j] * xhat[i, j]
        for i in range(N):
            dx[i, j] = gamma[j] / (N * std[j]) * (N * dout[i, j] - dbeta[j] - xhat[i, j] * dgamma[j])
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    N, D = x.shape
    out, xhat, std = np.zeros((N, D)), np.zeros((N, D)), np.zeros(N)
    for i in range(N):
        s, ss = 0.0, 0.0
        for j in range(D):
            s += x[i, j]
            ss += x[i, j] * x[i, j]
        mean = s / D
        std[i] = math.sqrt(ss / D - mean * mean + eps)
        for j in range(D):
            xhat[i, j] = (x[i, j] - mean) / std[i]
            out[i, j] = gamma[j] * xhat[i, j] + beta[j]
    return out, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    N, D = dout.shape
    dx, dgamma, dbeta = np.zeros((N, D)), np.zeros(D), np.zeros(D)
    for i in range(N):
        total, projection = 0.0, 0.0
        for j in range(D):
            dxhat = dout[i, j] * gamma[j]
            total += dxhat
            projection += dxhat * xhat[i, j]
            dgamma[j] += dout[i, j] * xhat[i, j]
            dbeta[j] += dout[i, j]
        for j in range(D):
            dx[i, j] = (dout[i, j] * gamma[j] - total / D - xhat[i, j] * projection / D) / std[i]
    return dx, dgamma, dbeta
