"""The graph backward pass starts from dxhat = dout, forgetting that out = gamma * xhat + beta
scales the gradient by gamma."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout
    dvar = np.sum(dxhat * xc, axis=0) * -0.5 * std**-3
    dmu = np.sum(-dxhat * inv_std, axis=0) + dvar * np.mean(-2.0 * xc, axis=0)
    dx = dxhat * inv_std + dvar * 2.0 * xc / N + dmu / N
    return dx, dgamma, dbeta
