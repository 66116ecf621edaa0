"""The closed-form backward pass returns (dx, dbeta, dgamma): the right gradients in the wrong
order."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma)
    return dx, dbeta, dgamma
