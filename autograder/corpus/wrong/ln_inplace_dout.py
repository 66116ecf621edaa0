"""Layer norm's backward pass centres the upstream gradient in place (dout -= mean), changing
the caller's dout; the returned gradients are still right."""
import numpy as np

EXPECT = {"layernorm_backward": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dout *= gamma
    dout -= dout.mean(axis=1, keepdims=True)
    dx = (dout - xhat * (dout * xhat).mean(axis=1, keepdims=True)) * inv_std
    return dx, dgamma, dbeta
