"""The closed-form backward pass sums with keepdims=True and returns dgamma and dbeta of shape
(1, D) instead of (D,)."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses"}


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = np.sum(dout, axis=0, keepdims=True)
    dgamma = np.sum(dout * xhat, axis=0, keepdims=True)
    dx = gamma * inv_std / N * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
