"""The closed form closes its bracket one term too early: xhat * dgamma / N is subtracted outside
and misses the factor gamma / std."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma * inv_std / N * (N * dout - dbeta) - xhat * dgamma / N
    return dx, dgamma, dbeta
