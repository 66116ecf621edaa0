"""Layer norm's backward pass sums over the features, as it should, but divides by N (the batch
size) instead of D; it is right only when N == D."""
import numpy as np

EXPECT = {"layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_backward(dout, cache):
    xhat, inv_std, gamma = cache
    N, D = dout.shape
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    dx = (dxhat - np.sum(dxhat, axis=1, keepdims=True) / N
          - xhat * np.sum(dxhat * xhat, axis=1, keepdims=True) / N) * inv_std
    return dx, dgamma, dbeta
