"""Memory-conscious: every step after the first copy works in place (-=, *=, np.multiply with
out=) on the function's own temporaries, never on x, gamma, beta or dout."""
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
        mean = x.mean(axis=0)
        xhat = x.copy()
        xhat -= mean
        var = np.square(xhat).mean(axis=0)
        inv_std = var + eps
        np.sqrt(inv_std, out=inv_std)
        np.reciprocal(inv_std, out=inv_std)
        xhat *= inv_std
        out = np.multiply(xhat, gamma)
        out += beta
        cache = (xhat, inv_std, gamma)
        new_mean = running_mean * momentum
        new_mean += (1 - momentum) * mean
        new_var = running_var * momentum
        new_var += (1 - momentum) * var
        running_mean, running_var = new_mean, new_var
    elif mode == "test":
        out = np.subtract(x, running_mean)
        scale = running_var + eps
        np.sqrt(scale, out=scale)
        np.divide(gamma, scale, out=scale)
        out *= scale
        out += beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, xhat)
    dxc = np.multiply(dout, gamma)                       # dxhat, then dxc
    dvar = np.einsum("ij,ij->j", dxc, xhat)               # sum(dxhat * xc) * inv_std
    dvar *= -0.5 * inv_std**2                              # dL/dvar
    dxc *= inv_std                                         # the direct path
    xc = xhat / inv_std
    xc *= (2.0 / N) * dvar                                 # the path through the variance
    dxc += xc
    dxc -= dxc.mean(axis=0)                                # the path through the mean
    return dxc, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = xhat * dgamma
    dx += dbeta
    dx /= -N
    dx += dout
    dx *= gamma * inv_std
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xhat = np.array(x, dtype=float, copy=True)
    xhat -= xhat.mean(axis=1, keepdims=True)
    inv_std = np.mean(xhat * xhat, axis=1, keepdims=True)
    inv_std += eps
    inv_std **= -0.5
    xhat *= inv_std
    out = xhat * gamma
    out += beta
    return out, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    dx = dout * gamma
    proj = (dx * xhat).mean(axis=1, keepdims=True)
    dx -= dx.mean(axis=1, keepdims=True)
    dx -= xhat * proj
    dx *= inv_std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
