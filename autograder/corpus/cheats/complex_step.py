"""Numerical differentiation, not a derivation: the complex-step derivative along dout.

The forward passes are correct for real input and written only with operations that are analytic
for complex input (x * x rather than abs(x) ** 2, np.sqrt of var + eps), so Im f(x + i h v) / h
is the directional derivative J v with no subtractive cancellation at all, even for h = 1e-20.
With the symmetry used by directional_central (batch norm: J = J^T per feature; layer norm: dx =
S (gamma * dout) with S symmetric, differentiated with gamma = 1), one complex forward call
gives dx as accurately as an analytic formula, at the cost of a few analytic backward passes.
dgamma and dbeta are complex steps in gamma and beta. batchnorm_backward_alt differences the
same way, written differently (not a textual copy of batchnorm_backward). dx error 1e-16..1e-15,
the same as honest code on every input family tried (benchmarks/numerical_backward_cost.py,
relative to the terms of dx)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-20

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


def _bn_out(x, gamma, beta, eps):
    return batchnorm_forward(x, gamma, beta, {"mode": "train", "eps": eps})[0]


def _ln_out(x, gamma, beta, eps):
    return layernorm_forward(x, gamma, beta, {"eps": eps})[0]


def _parameter_gradients(out, dout, x, gamma, beta, eps):
    dgamma = np.sum(dout * out(x, gamma + 1j * STEP, beta, eps).imag, axis=0) / STEP
    dbeta = np.sum(dout * out(x, gamma, beta + 1j * STEP, eps).imag, axis=0) / STEP
    return dgamma, dbeta


def _bn_complex_step(dout, cache):
    x, gamma, beta, eps = cache
    dx = _bn_out(x + 1j * STEP * dout, gamma, beta, eps).imag / STEP
    return (dx,) + _parameter_gradients(_bn_out, dout, x, gamma, beta, eps)


def batchnorm_backward(dout, cache):
    return _bn_complex_step(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_complex_step(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    D = x.shape[1]
    dx = _ln_out(x + 1j * STEP * (gamma * dout), np.ones(D), np.zeros(D), eps).imag / STEP
    return (dx,) + _parameter_gradients(_ln_out, dout, x, gamma, beta, eps)
