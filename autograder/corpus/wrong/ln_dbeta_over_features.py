"""Layer norm's backward pass sums dout over axis 1 for dbeta (the normalisation axis) instead of
over the examples: dbeta has one entry per example."""
import numpy as np

EXPECT = {"layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    D = xhat.shape[1]
    dbeta = np.sum(dout, axis=1)
    dgamma = np.sum(dout * xhat, axis=0)
    g = dout * gamma
    dx = inv_std / D * (D * g - g.sum(axis=1, keepdims=True) - xhat * (g * xhat).sum(axis=1, keepdims=True))
    return dx, dgamma, dbeta
