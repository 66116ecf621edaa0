"""Numerical differentiation, not a derivation: central differences a whole row (batch norm) or a
whole column (layer norm) at a time, through a private copy of the forward computation.

The backward passes never call batchnorm_forward or layernorm_forward by name (the forward-call
watch sees nothing): they difference _normalise, a helper both forward passes share. Batch norm's
features are independent, so moving example i by a step in every feature gives row i of dx from
two helper calls; layer norm's examples are independent, so moving feature j of every example
gives column j. That is N (batch norm) or D (layer norm) pairs of passes over the whole batch, so
only the cost of the large batch tells it apart from an analytic backward pass."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-5  # in units of the standard deviation


def _normalise(x, gamma, beta, eps, axis):
    """gamma * (x - mean) / sqrt(var + eps) + beta, statistics along axis; also (mean, var)."""
    mu = x.mean(axis=axis, keepdims=True)
    centred = x - mu
    var = (centred * centred).mean(axis=axis, keepdims=True)
    return gamma * centred / np.sqrt(var + eps) + beta, mu, var


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    cache = None
    if mode == "train":
        out, mu, var = _normalise(x, gamma, beta, eps, axis=0)
        cache = (x.copy(), gamma.copy(), eps)
        running_mean = momentum * running_mean + (1 - momentum) * mu[0]
        running_var = momentum * running_var + (1 - momentum) * var[0]
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    out = _normalise(x, gamma, beta, eps, axis=1)[0]
    return out, (x.copy(), gamma.copy(), eps)


def _sliced_differences(dout, cache, axis):
    """dx one slice at a time (rows for axis 0, columns for axis 1); dgamma, dbeta in closed form
    from the normalised x (the differencing is what this entry is about)."""
    x, gamma, eps = cache
    zero = np.zeros_like(gamma)
    std = np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    dx = np.zeros_like(x)
    for k in range(x.shape[axis]):
        moved_up, moved_down = x.copy(), x.copy()
        if axis == 0:
            moved_up[k] += STEP * std[0]
            moved_down[k] -= STEP * std[0]
        else:
            moved_up[:, k] += STEP * std[:, 0]
            moved_down[:, k] -= STEP * std[:, 0]
        slope = (_normalise(moved_up, gamma, zero, eps, axis)[0]
                 - _normalise(moved_down, gamma, zero, eps, axis)[0]) / (2 * STEP)
        if axis == 0:
            dx[k] = np.sum(dout * slope, axis=0) / std[0]
        else:
            dx[:, k] = np.sum(dout * slope, axis=1) / std[:, 0]
    normalised = _normalise(x, np.ones_like(gamma), zero, eps, axis)[0]
    return dx, np.sum(dout * normalised, axis=0), np.sum(dout, axis=0)


def batchnorm_backward(dout, cache):
    return _sliced_differences(dout, cache, axis=0)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _sliced_differences(dout, cache, 0)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    return _sliced_differences(dout, cache, axis=1)
