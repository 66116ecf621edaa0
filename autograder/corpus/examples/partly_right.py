"""Batch norm right; layer norm normalises over the batch (axis 0) with a backward pass
consistent with that mistake; the analogy gets batch norm right and picks group norm's option 1
for layer norm."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "preprocessing_analogy": "loses", "batchsize_training": "loses"}

bn_analogy = 3
ln_analogy = 1


def layernorm_forward(x, gamma, beta, ln_param):
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)
    mu = np.mean(x, axis=0)
    var = np.var(x, axis=0)
    std = np.sqrt(var + eps)
    x_hat = (x - mu) / std
    out = gamma * x_hat + beta
    cache = (x_hat, std, gamma)
    return out, cache


def layernorm_backward(dout, cache):
    dx, dgamma, dbeta = None, None, None
    x_hat, std, gamma = cache
    N = dout.shape[0]
    dgamma = np.sum(dout * x_hat, axis=0)
    dbeta = np.sum(dout, axis=0)
    dx_hat = dout * gamma
    dx = (N * dx_hat - np.sum(dx_hat, axis=0) - x_hat * np.sum(dx_hat * x_hat, axis=0)) / (N * std)
    return dx, dgamma, dbeta
