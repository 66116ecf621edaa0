"""Both backward passes compute dgamma as the sum of dout, forgetting to multiply by the
normalised input xhat."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses", "batchsize_training": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout, axis=0)
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xc, axis=0) * -0.5 * inv_std**3
    dmean = -np.sum(dxhat * inv_std, axis=0)
    dx = dxhat * inv_std + dvar * 2 * xc / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    xhat = xc * inv_std
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout, axis=0)
    dx = (gamma * inv_std / N) * (N * dout - dbeta - xhat * np.sum(dout * xhat, axis=0))
    return dx, dgamma, dbeta
