"""Layer norm normalises each feature over the batch (axis 0), which is batch norm; its backward
pass takes its means over the batch as well."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=0)
    var = x.var(axis=0)
    xhat = (x - mu) / np.sqrt(var + eps)
    out = gamma * xhat + beta
    return out, (xhat, gamma, var, eps)


def layernorm_backward(dout, cache):
    xhat, gamma, var, eps = cache
    N = dout.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dx = gamma / (N * np.sqrt(var + eps)) * (N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta
