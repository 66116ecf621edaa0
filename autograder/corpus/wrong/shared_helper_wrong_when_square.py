"""A normalisation helper shared by batch norm and layer norm guesses the axis of the statistics
from their length (len(mean) == N means per example), so batch norm goes wrong exactly when
N == D; layer norm is unaffected."""
import numpy as np

EXPECT = {"batchnorm_forward": "loses", "batchnorm_backward": "loses", "batchnorm_backward_alt": "loses"}


def _as_column_if_per_example(stat, x):
    """Per-example statistics (one per row) must broadcast along the rows."""
    if stat.shape[0] == x.shape[0]:
        return stat.reshape(-1, 1)
    return stat


def normalise(x, mean, var, eps):
    mean = _as_column_if_per_example(mean, x)
    var = _as_column_if_per_example(var, x)
    std = np.sqrt(var + eps)
    return (x - mean) / std, std


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        xhat, std = normalise(x, mean, var, eps)
        out = gamma * xhat + beta
        cache = (xhat, std, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        xhat, _ = normalise(x, running_mean, running_var, eps)
        out = gamma * xhat + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dvar = -0.5 * (dxhat * xhat).sum(axis=0) / std**2
    dxc = dxhat / std + dvar * 2 * xhat * std / N
    dx = dxc - dxc.mean(axis=0)
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / std * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    xhat, std = normalise(x, x.mean(axis=1), x.var(axis=1), eps)
    return gamma * xhat + beta, (xhat, std, gamma)


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=1, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
