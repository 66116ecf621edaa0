"""Layer norm computed as batch norm of the transpose: a batch-norm-style helper normalises the
columns of x.T (the examples' features) and its backward helper is reused the same way."""
import numpy as np


def _normalise_columns(a, eps):
    """Normalise each column of a over its rows; returns (ahat, inv_std) with inv_std of shape (cols,)."""
    mu = a.mean(axis=0)
    var = a.var(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    return (a - mu) * inv_std, inv_std


def _normalise_columns_backward(dahat, ahat, inv_std):
    """Gradient through _normalise_columns, given the gradient of its output."""
    return inv_std * (dahat - dahat.mean(axis=0) - ahat * (dahat * ahat).mean(axis=0))


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        xhat, inv_std = _normalise_columns(x, eps)
        out = gamma * xhat + beta
        cache = (xhat, inv_std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * x.mean(axis=0)
        running_var = momentum * running_var + (1 - momentum) * x.var(axis=0)
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dxhat = dout * gamma
    # xhat = xc * inv_std: the path through inv_std carries the variance
    dinv_std = (dxhat * xhat).sum(axis=0) / inv_std
    dvar = -0.5 * inv_std**3 * dinv_std
    dxc = dxhat * inv_std + (2.0 / N) * (xhat / inv_std) * dvar
    dx = dxc - dxc.sum(axis=0) / N
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def batchnorm_backward_alt(dout, cache):
    xhat, inv_std, gamma = cache
    dx = _normalise_columns_backward(dout * gamma, xhat, inv_std)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xhat_t, inv_std = _normalise_columns(x.T, eps)   # columns of x.T are the examples
    xhat = xhat_t.T
    out = gamma * xhat + beta
    return out, (xhat_t, inv_std, gamma)


def layernorm_backward(dout, cache):
    xhat_t, inv_std, gamma = cache
    dxhat_t = (dout * gamma).T
    dx = _normalise_columns_backward(dxhat_t, xhat_t, inv_std).T
    dgamma = (dout * xhat_t.T).sum(axis=0)
    dbeta = dout.sum(axis=0)
    return dx, dgamma, dbeta
