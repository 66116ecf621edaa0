"""Numerical differentiation, not a derivation: a sixth-order central difference (seven-point
stencil) along the direction dout, through a private copy of the forward computation -- the most
precise float64 differencing here (see directional_fourth_order for the method).

Both forward passes call one helper, _normalise(x, gamma, beta, eps, axis); the backward passes
call the same helper (never batchnorm_forward or layernorm_forward by name, so watching the
notebook's forward functions would not notice). As in directional_central: batch norm's
per-feature Jacobian is symmetric, so dx = J dout is the derivative of the forward pass along
dout (each column scaled to its largest entry, the step in units of the column's standard
deviation); for layer norm dx is the derivative of the gamma = 1 forward along gamma * dout, row
by row. x is centred first (both normalisations are shift invariant), beta is 0 in the
differenced calls. Six forward calls per backward call. batchnorm_backward_alt differences the
same way, written differently (not a textual copy of batchnorm_backward). dx error 6e-14..3e-13
on centred inputs; 4e-13..6e-12 on large centred inputs with outliers
(benchmarks/numerical_backward_cost.py, relative to the terms of dx)."""
import numpy as np

EXPECT = {}  # a known limit: it keeps full marks (see LIMIT)
LIMIT = ("A sixth-order difference along dout through a private copy of the forward computation: as "
         "cheap as an analytic backward pass, within about 1e-11 of it, and it never calls the notebook's "
         "forward functions, so neither the cost, the precision nor the forward-call watch tells it apart.")

OFFSETS, WEIGHTS = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0), (-1 / 60, 9 / 60, -45 / 60, 45 / 60, -9 / 60, 1 / 60)
STEP = 5e-3  # in units of the standard deviation (the best step, tried on many inputs)


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
        cache = {"x": x.copy(), "gamma": gamma.copy(), "eps": eps}
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
    return out, {"x": x.copy(), "gamma": gamma.copy(), "eps": eps}


def _directional(dout, cache, axis):
    """dx, dgamma, dbeta by differencing _normalise along dout (see the docstring)."""
    x, gamma, eps = cache["x"], cache["gamma"], cache["eps"]
    x = x - x.mean(axis=axis, keepdims=True)
    D = x.shape[1]
    std = np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    if axis == 0:                      # batch norm: J = gamma * S, symmetric
        v, g = dout, gamma
    else:                              # layer norm: J = diag(gamma) S, differentiate with gamma = 1
        v, g = gamma * dout, np.ones(D)
    size = np.abs(v).max(axis=axis, keepdims=True)
    size = np.where(size > 0, size, 1.0)
    direction = v / size * std
    zeros = np.zeros(D)
    dx = sum(w * _normalise(x + o * STEP * direction, g, zeros, eps, axis)[0]
             for o, w in zip(OFFSETS, WEIGHTS)) / STEP * (size / std)
    xhat = _normalise(x, np.ones(D), zeros, eps, axis)[0]  # d out / d gamma, as out is linear in gamma
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batchnorm_backward(dout, cache):
    return _directional(dout, cache, axis=0)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _directional(dout, cache, axis=0)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    return _directional(dout, cache, axis=1)
