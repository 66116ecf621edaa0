"""Layer norm's backward takes its sums over the batch (axis 0), dividing by the number of
features, and multiplies by gamma outside the sums."""
import numpy as np

EXPECT = {"layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    D = dout.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std / D * (D * dout - dout.sum(axis=0) - xhat * (dout * xhat).sum(axis=0))
    return dx, dgamma, dbeta
