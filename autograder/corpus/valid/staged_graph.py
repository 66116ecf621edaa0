"""A fully staged computation graph (the classic nine-step version): every intermediate of the
forward pass is cached and the backward pass walks the graph node by node."""
import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mu = 1.0 / N * np.sum(x, axis=0)          # step 1
        xmu = x - mu                              # step 2
        sq = xmu ** 2                             # step 3
        var = 1.0 / N * np.sum(sq, axis=0)        # step 4
        sqrtvar = np.sqrt(var + eps)              # step 5
        ivar = 1.0 / sqrtvar                      # step 6
        xhat = xmu * ivar                         # step 7
        gammax = gamma * xhat                     # step 8
        out = gammax + beta                       # step 9
        cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps, sq, mu, gammax)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        xhat = (x - running_mean) / np.sqrt(running_var + eps)
        out = gamma * xhat + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps, sq, mu, gammax = cache
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)                  # step 9
    dgammax = dout
    dgamma = np.sum(dgammax * xhat, axis=0)       # step 8
    dxhat = dgammax * gamma
    divar = np.sum(dxhat * xmu, axis=0)           # step 7
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / (sqrtvar ** 2) * divar      # step 6
    dvar = 0.5 * 1.0 / np.sqrt(var + eps) * dsqrtvar  # step 5
    dsq = 1.0 / N * np.ones((N, D)) * dvar        # step 4
    dxmu2 = 2 * xmu * dsq                         # step 3
    dx1 = dxmu1 + dxmu2                           # step 2
    dmu = -1 * np.sum(dxmu1 + dxmu2, axis=0)
    dx2 = 1.0 / N * np.ones((N, D)) * dmu         # step 1
    dx = dx1 + dx2
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, gamma, xmu, ivar = cache[:4]
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.sum(xhat * dout, axis=0)
    dx = (1.0 / N) * gamma * ivar * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    N, D = x.shape
    mu = 1.0 / D * np.sum(x, axis=1, keepdims=True)
    xmu = x - mu
    sq = xmu ** 2
    var = 1.0 / D * np.sum(sq, axis=1, keepdims=True)
    sqrtvar = np.sqrt(var + eps)
    ivar = 1.0 / sqrtvar
    xhat = xmu * ivar
    out = gamma * xhat + beta
    cache = (xhat, gamma, xmu, ivar, sqrtvar, var, eps)
    return out, cache


def layernorm_backward(dout, cache):
    xhat, gamma, xmu, ivar, sqrtvar, var, eps = cache
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=1, keepdims=True)
    dxmu1 = dxhat * ivar
    dsqrtvar = -1.0 / sqrtvar ** 2 * divar
    dvar = 0.5 / np.sqrt(var + eps) * dsqrtvar
    dsq = np.ones((N, D)) / D * dvar
    dxmu2 = 2 * xmu * dsq
    dmu = -np.sum(dxmu1 + dxmu2, axis=1, keepdims=True)
    dx = dxmu1 + dxmu2 + np.ones((N, D)) / D * dmu
    return dx, dgamma, dbeta
