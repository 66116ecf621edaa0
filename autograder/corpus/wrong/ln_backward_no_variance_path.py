"""Layer norm's backward pass subtracts the row mean of dxhat but drops the xhat * mean(dxhat *
xhat) term that comes from the variance."""
import numpy as np

EXPECT = {"layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (dxhat - np.mean(dxhat, axis=1, keepdims=True)) * inv_std
    return dx, dgamma, dbeta
