"""The graph backward pass stops at the centred input: it adds the variance branch but never
back-propagates through the batch mean, so dx misses the -mean(dxc) term."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N, D = dout.shape
    xhat = xc * inv_std
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xc, axis=0)
    dsqrtvar = -1.0 / std**2 * divar
    dvar = 0.5 / std * dsqrtvar
    dsq = np.ones((N, D)) / N * dvar
    dx = dxhat * inv_std + 2 * xc * dsq
    return dx, dgamma, dbeta
