"""The closed-form backward pass forgets the 1/N in front of N * dout - sum(dout) - xhat *
sum(dout * xhat), so dx is N times too large; the graph version is right."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
