"""The closed-form backward pass takes dbeta as the mean of dout over the batch instead of
its sum."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses", "batchsize_training": "loses"}  # the training run trains beta with it


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    xhat = xc / std
    dbeta = dout.mean(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / std * (dout - dout.mean(axis=0) - xhat * (dout * xhat).mean(axis=0))
    return dx, dgamma, dbeta
