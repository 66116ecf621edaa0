"""The graph backward pass treats the standard deviation as a constant: dx keeps the mean
branch but has no term from the variance."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xc * inv_std).sum(axis=0)
    dxc = dout * gamma * inv_std
    dmean = -dxc.sum(axis=0)
    dx = dxc + dmean / N
    return dx, dgamma, dbeta
