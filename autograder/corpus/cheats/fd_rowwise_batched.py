"""Numerical differentiation, not a derivation: forward differences a whole row (batch norm) or
column (layer norm) at a time, many moved copies of x per forward call -- the cheapest per-row
differencing here: one moved copy per row (column) instead of two.

As central_rowwise_batched (K copies of x side by side for batch norm, stacked for layer norm,
one call of the student's forward pass per chunk), but each copy is moved by +h only and the
unmoved output is subtracted: (f(x + h e_i) - f(x)) / h. x is centred first and h is 1e-8
standard deviations. batchnorm_backward_alt differences the same way, written differently (not a
textual copy of batchnorm_backward). dx error about 1e-8..1e-7: today's 1e-6 tests pass, and the
training replay (plain SGD) reproduces the reference's losses to about 1e-8."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-8              # in units of the standard deviation
CHUNK_ELEMENTS = 2 ** 22  # at most this many entries per stacked array

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


def _bn_numerical(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=0)  # shift invariant: small steps survive rounding better at mean 0
    N, D = x.shape
    std = np.sqrt(x.var(axis=0) + eps)
    base = batchnorm_forward(x, gamma, np.zeros(D), {"mode": "train", "eps": eps})[0]
    k_max = max(1, CHUNK_ELEMENTS // (N * D))
    dx = np.zeros_like(x)
    for start in range(0, N, k_max):
        rows = np.arange(start, min(N, start + k_max))
        K = len(rows)
        stacked = np.tile(x, (1, K)).reshape(N, K, D)
        stacked[rows, np.arange(K)] += STEP * std
        out = batchnorm_forward(stacked.reshape(N, K * D), np.tile(gamma, K), np.zeros(K * D),
                                {"mode": "train", "eps": eps})[0]
        diff = out.reshape(N, K, D) - base[:, None, :]
        dx[rows] = np.einsum("nd,nkd->kd", dout, diff) / (STEP * std)
    def out(g, b):
        return batchnorm_forward(x, g, b, {"mode": "train", "eps": eps})[0]

    dgamma = np.sum(dout * (out(gamma + 1.0, beta) - out(gamma - 1.0, beta)), axis=0) / 2.0  # linear
    dbeta = np.sum(dout * (out(gamma, beta + 1.0) - out(gamma, beta - 1.0)), axis=0) / 2.0
    return dx, dgamma, dbeta


def batchnorm_backward(dout, cache):
    return _bn_numerical(dout, cache)


def batchnorm_backward_alt(dout, cache):
    dx, dgamma, dbeta = _bn_numerical(dout, cache)  # not a copy of batchnorm_backward's text
    return dx, dgamma, dbeta


def layernorm_backward(dout, cache):
    x, gamma, beta, eps = cache
    x = x - x.mean(axis=1, keepdims=True)  # shift invariant
    N, D = x.shape
    std = np.sqrt(x.var(axis=1) + eps)
    base = layernorm_forward(x, gamma, np.zeros(D), {"eps": eps})[0]
    k_max = max(1, CHUNK_ELEMENTS // (N * D))
    dx = np.zeros_like(x)
    for start in range(0, D, k_max):
        cols = np.arange(start, min(D, start + k_max))
        K = len(cols)
        stacked = np.tile(x, (K, 1)).reshape(K, N, D)
        stacked[np.arange(K), :, cols] += STEP * std
        out = layernorm_forward(stacked.reshape(K * N, D), gamma, np.zeros(D), {"eps": eps})[0]
        diff = out.reshape(K, N, D) - base[None]
        dx[:, cols] = np.einsum("nd,knd->nk", dout, diff) / (STEP * std[:, None])
    def out(g, b):
        return layernorm_forward(x, g, b, {"eps": eps})[0]

    dgamma = np.sum(dout * (out(gamma + 1.0, beta) - out(gamma - 1.0, beta)), axis=0) / 2.0  # linear
    dbeta = np.sum(dout * (out(gamma, beta + 1.0) - out(gamma, beta - 1.0)), axis=0) / 2.0
    return dx, dgamma, dbeta
