"""Numerical differentiation, not a derivation: a fourth-order central difference along dout,
with the differenced forward passes run in extended precision (np.longdouble: 64-bit mantissa on
x86-64 Linux).

Same symmetry trick as directional_central (batch norm: dx = J dout per feature; layer norm: dx
= S (gamma * dout) with the gamma = 1 forward), x centred first, beta 0 in the differenced
calls, four calls of the student's own forward pass on long-double copies of x, gamma and the
direction; the result is rounded back to float64. Extended precision pushes the rounding error
of the difference quotient down by three orders of magnitude, so the error is that of an
analytic float64 backward pass on ordinary inputs. batchnorm_backward_alt differences the same
way, written differently (not a textual copy of batchnorm_backward). dx error 1e-15..8e-15 on
centred inputs (honest code: up to 6e-16); 9e-15..1.2e-13 on large centred inputs with outliers
(honest: up to 2.5e-15) (benchmarks/numerical_backward_cost.py, relative to the terms of dx)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

OFFSETS, WEIGHTS = (-2.0, -1.0, 1.0, 2.0), (1 / 12, -8 / 12, 8 / 12, -1 / 12)
STEP = 1e-4  # in units of the standard deviation
WIDE = np.longdouble

def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    cache = None
    if mode == "train":
        mu = x.mean(axis=0)
        centred = x - mu
        var = (centred * centred).mean(axis=0)
        out = gamma * centred / np.sqrt(var + eps) + beta
        cache = (x.copy(), gamma.copy(), beta.copy(), eps)  # enough to run the forward pass again
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    mu = x.mean(axis=1, keepdims=True)
    centred = x - mu
    var = (centred * centred).mean(axis=1, keepdims=True)
    out = gamma * centred / np.sqrt(var + eps) + beta
    return out, (x.copy(), gamma.copy(), beta.copy(), eps)


def _differenced(out, x, v, axis, eps):
    """J v by the five-point stencil in long double, for out(x) normalising along axis."""
    x = np.asarray(x, dtype=WIDE)
    x = x - x.mean(axis=axis, keepdims=True)
    v = np.asarray(v, dtype=WIDE)
    std = np.sqrt(x.var(axis=axis, keepdims=True) + WIDE(eps))
    size = np.abs(v).max(axis=axis, keepdims=True)
    size = np.where(size > 0, size, WIDE(1))
    direction = v / size * std
    step = WIDE(STEP)
    total = sum(WIDE(w) * out(x + WIDE(o) * step * direction) for o, w in zip(OFFSETS, WEIGHTS))
    return (total / step * (size / std)).astype(np.float64)


def _bn_numerical(dout, cache):
    x, gamma, beta, eps = cache
    D = x.shape[1]
    gamma_wide, zeros = np.asarray(gamma, dtype=WIDE), np.zeros(D, dtype=WIDE)
    dx = _differenced(lambda z: batchnorm_forward(z, gamma_wide, zeros, {"mode": "train", "eps": eps})[0],
                      x, dout, 0, eps)
    xhat = batchnorm_forward(x, np.ones(D), np.zeros(D), {"mode": "train", "eps": eps})[0]  # d out / d gamma
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def batchnorm_backward(dout, cache):
    return _bn_numerical(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_numerical(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    D = x.shape[1]
    ones, zeros = np.ones(D, dtype=WIDE), np.zeros(D, dtype=WIDE)
    dx = _differenced(lambda z: layernorm_forward(z, ones, zeros, {"eps": eps})[0], x, gamma * dout, 1, eps)
    xhat = layernorm_forward(x, np.ones(D), np.zeros(D), {"eps": eps})[0]
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)
