"""The graph backward pass squeezes its keepdims sums, so with a single feature (D == 1) dgamma
and dbeta come back as 0-d arrays instead of shape (1,); every other shape is right."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = np.sum(dout, axis=0, keepdims=True).squeeze()
    dgamma = np.sum(dout * xhat, axis=0, keepdims=True).squeeze()
    dxhat = dout * gamma
    dvar = np.sum(dxhat * xc, axis=0, keepdims=True) * -0.5 * inv_std**3
    dxc = dxhat * inv_std + 2.0 * xc * dvar / N
    dx = dxc - np.mean(dxc, axis=0, keepdims=True)
    return dx, dgamma, dbeta
