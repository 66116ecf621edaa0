"""Everything right except the graph backward pass of batch norm, which never back-propagates
through the batch mean (the closed form is right)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    dx, dgamma, dbeta = None, None, None
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    dinv_std = (dxhat * xc).sum(axis=0)
    dxc = dxhat * inv_std
    dstd = -dinv_std / std**2
    dvar = 0.5 * dstd / std
    dxc += 2.0 * xc * dvar / N
    dx = dxc
    return dx, dgamma, dbeta
