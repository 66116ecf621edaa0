"""Layer norm's backward pass is batch norm's closed form copied unchanged: its means run over
the batch (axis 0) instead of over each example's features."""
import numpy as np

EXPECT = {"layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dx = inv_std / N * (N * dxhat - dxhat.sum(axis=0) - xhat * (dxhat * xhat).sum(axis=0))
    return dx, dgamma, dbeta
