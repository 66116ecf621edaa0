"""Layer norm's default eps is 1e-8 (remembered from Adam) instead of 1e-5, so a call with an
empty ln_param normalises small-variance examples differently."""
import numpy as np

EXPECT = {"layernorm_forward": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-8)
    mu = x.mean(axis=1, keepdims=True)
    sigma = np.sqrt(x.var(axis=1, keepdims=True) + eps)
    xhat = (x - mu) / sigma
    return gamma * xhat + beta, (xhat, sigma, gamma)


def layernorm_backward(dout, cache):
    xhat, sigma, gamma = cache
    dxhat = dout * gamma
    dx = (dxhat - dxhat.mean(axis=1, keepdims=True)
          - xhat * (dxhat * xhat).mean(axis=1, keepdims=True)) / sigma
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
