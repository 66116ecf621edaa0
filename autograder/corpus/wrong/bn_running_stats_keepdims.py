"""The batch statistics keep their axis (keepdims=True), so the running averages stored in
bn_param have shape (1, D) instead of (D,); every value is right."""
import numpy as np

EXPECT = {"batchnorm_forward": "loses"}


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mu = x.mean(axis=0, keepdims=True)
        var = x.var(axis=0, keepdims=True)
        std = np.sqrt(var + eps)
        xhat = (x - mu) / std
        out = gamma * xhat + beta
        cache = (x - mu, std, 1.0 / std, gamma)  # the layout the backward passes here unpack
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
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xc * inv_std).sum(axis=0)
    dxhat = dout * gamma
    dinv_std = (dxhat * xc).sum(axis=0)
    dvar = -0.5 * dinv_std * inv_std**3
    dxc = dxhat * inv_std + dvar * 2 * xc / N
    dx = dxc - dxc.mean(axis=0)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
