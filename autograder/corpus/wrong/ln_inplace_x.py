"""Layer norm subtracts the row means from x in place (x -= mu), modifying the caller's input;
everything it returns is right."""
import numpy as np

EXPECT = {"layernorm_forward": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    x -= mu
    inv_std = 1.0 / np.sqrt((x ** 2).mean(axis=1, keepdims=True) + eps)
    xhat = x * inv_std
    out = gamma * xhat + beta
    return out, (xhat, inv_std, gamma)


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    D = dout.shape[1]
    dxhat = dout * gamma
    dx = inv_std * (dxhat - dxhat.sum(axis=1, keepdims=True) / D
                    - xhat * (dxhat * xhat).sum(axis=1, keepdims=True) / D)
    return dx, (dout * xhat).sum(axis=0), dout.sum(axis=0)
