"""np.var / np.std with keepdims=True everywhere and a dict as the cache, for both batch norm
and layer norm."""
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
        mean = np.mean(x, axis=0, keepdims=True)
        var = np.var(x, axis=0, keepdims=True)
        std = np.sqrt(var + eps)
        xhat = (x - mean) / std
        out = gamma * xhat + beta
        cache = {"xhat": xhat, "std": std, "gamma": gamma, "N": N}
        running_mean = momentum * running_mean + (1 - momentum) * mean[0]
        running_var = momentum * running_var + (1 - momentum) * var[0]
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma, N = cache["xhat"], cache["std"], cache["gamma"], cache["N"]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    xc = xhat * std
    dvar = np.sum(dxhat * xc, axis=0, keepdims=True) * -0.5 / std**3
    dmean = -np.sum(dxhat, axis=0, keepdims=True) / std + dvar * np.mean(-2.0 * xc, axis=0, keepdims=True)
    dx = dxhat / std + dvar * 2.0 * xc / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dx = gamma / std * (dout - np.mean(dout, axis=0, keepdims=True)
                        - xhat * np.mean(dout * xhat, axis=0, keepdims=True))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = np.mean(x, axis=1, keepdims=True)
    std = np.sqrt(np.var(x, axis=1, keepdims=True) + eps)
    xhat = (x - mean) / std
    out = gamma * xhat + beta
    cache = {"xhat": xhat, "std": std, "gamma": gamma}
    return out, cache


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    dxhat = dout * gamma
    dx = (dxhat - np.mean(dxhat, axis=1, keepdims=True)
          - xhat * np.mean(dxhat * xhat, axis=1, keepdims=True)) / std
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    return dx, dgamma, dbeta
