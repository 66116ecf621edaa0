"""Layer norm returns the normalised input without multiplying by gamma or adding beta, and its
backward pass leaves gamma out of dx accordingly."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mean = x.mean(axis=1, keepdims=True)
    inv_std = 1.0 / np.sqrt(x.var(axis=1, keepdims=True) + eps)
    out = (x - mean) * inv_std
    cache = (out, inv_std)
    return out, cache


def layernorm_backward(dout, cache):
    xhat, inv_std = cache
    D = xhat.shape[1]
    dgamma = np.sum(dout * xhat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx = inv_std / D * (D * dout - dout.sum(axis=1, keepdims=True)
                        - xhat * (dout * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta
