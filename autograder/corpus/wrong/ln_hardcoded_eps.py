"""Layer norm hard-codes eps = 1e-5 instead of reading ln_param["eps"]; it passes the default
case only, and its backward pass uses the same wrong standard deviation."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    out, cache = None, None
    mean = np.mean(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    xhat = (x - mean) / np.sqrt(var + 1e-5)
    out = gamma * xhat + beta
    cache = (x, mean, var, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    x, mean, var, gamma = cache
    D = x.shape[1]
    inv = 1.0 / np.sqrt(var + 1e-5)
    xhat = (x - mean) * inv
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    g = dout * gamma
    dx = inv / D * (D * g - np.sum(g, axis=1, keepdims=True) - xhat * np.sum(g * xhat, axis=1, keepdims=True))
    return dx, dgamma, dbeta
