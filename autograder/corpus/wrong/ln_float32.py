"""Layer norm converts x to float32 "to save memory", so out and every gradient come back as
float32 (and lose precision)."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    x32 = x.astype(np.float32)
    mean = x32.mean(axis=1, keepdims=True)
    inv_std = (1.0 / np.sqrt(x32.var(axis=1, keepdims=True) + eps)).astype(np.float32)
    xhat = (x32 - mean) * inv_std
    out = gamma.astype(np.float32) * xhat + beta.astype(np.float32)
    return out, (xhat, inv_std, gamma.astype(np.float32))


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    dout = dout.astype(np.float32)
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std * (dxhat - dxhat.mean(axis=1, keepdims=True)
                    - xhat * (dxhat * xhat).mean(axis=1, keepdims=True))
    return dx, dgamma, dbeta
