"""Layer norm's forward pass returns (cache, out) instead of (out, cache); its backward pass
then unpacks the output array as if it were the cache."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    std = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mean) / std
    out = gamma * xhat + beta
    cache = (xhat, std, gamma)
    return cache, out


def layernorm_backward(dout, cache):
    xhat, std, gamma = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=1, keepdims=True) - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / std
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
