"""Layer norm subtracts x.mean(axis=1) without keepdims: the (N,) row means broadcast along the
wrong axis, which raises for most shapes and is silently wrong when N == D."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = np.mean(x, axis=1)
    var = np.var(x, axis=1)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return out, (xhat, var, eps, gamma)


def layernorm_backward(dout, cache):
    xhat, var, eps, gamma = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = (D * dxhat - np.sum(dxhat, axis=1) - xhat * np.sum(dxhat * xhat, axis=1)) / (D * np.sqrt(var + eps))
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
