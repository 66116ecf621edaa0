"""The graph backward pass scales the upstream gradient in place (dout *= gamma), so the
caller's dout is changed; the gradients it returns are right."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses"}


def batchnorm_backward(dout, cache):
    xc, std, inv_std, gamma = cache
    N = dout.shape[0]
    xhat = xc * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dout *= gamma                       # now it is dxhat
    dinv_std = np.sum(dout * xc, axis=0)
    dxc = dout * inv_std
    dvar = dinv_std * -0.5 * inv_std**3
    dxc += dvar * 2.0 * xc / N
    dx = dxc - dxc.mean(axis=0)
    return dx, dgamma, dbeta
