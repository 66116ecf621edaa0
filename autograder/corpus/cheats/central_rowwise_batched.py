"""Numerical differentiation, not a derivation: central differences a whole row (batch norm) or
column (layer norm) at a time, with many moved copies of x evaluated in one forward call.

Batch norm's columns are independent, so K copies of x, each with a different example moved by
+h (or -h) standard deviations, are put side by side into one (N, K * D) array and normalised by
a single call of the student's forward pass; layer norm's rows are independent, so K copies with
a different feature moved are stacked into a (K * N, D) array. The work is the same as one pair
of calls per row (column) -- O(N^2 D) for batch norm, O(N D^2) for layer norm -- but with few
Python-level calls: the fastest way to difference row by row. batchnorm_backward_alt differences
the same way, written differently (not a textual copy of batchnorm_backward). dx error
2e-11..2e-10 on centred inputs (benchmarks/numerical_backward_cost.py, error relative to the
terms of dx)."""
import numpy as np

EXPECT = {"batchnorm_backward": "loses", "batchnorm_backward_alt": "loses",
          "layernorm_backward": "loses", "batchsize_training": "loses"}

STEP = 1e-5              # in units of the standard deviation
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
    N, D = x.shape
    std = np.sqrt(x.var(axis=0) + eps)
    k_max = max(1, CHUNK_ELEMENTS // (N * D))
    dx = np.zeros_like(x)
    for start in range(0, N, k_max):
        rows = np.arange(start, min(N, start + k_max))
        K = len(rows)
        diff = 0.0
        for sign in (1.0, -1.0):
            stacked = np.tile(x, (1, K)).reshape(N, K, D)
            stacked[rows, np.arange(K)] += sign * STEP * std
            out = batchnorm_forward(stacked.reshape(N, K * D), np.tile(gamma, K), np.zeros(K * D),
                                    {"mode": "train", "eps": eps})[0]
            diff = diff + sign * out.reshape(N, K, D)
        dx[rows] = np.einsum("nd,nkd->kd", dout, diff) / (2 * STEP * std)
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
    N, D = x.shape
    std = np.sqrt(x.var(axis=1) + eps)
    k_max = max(1, CHUNK_ELEMENTS // (N * D))
    dx = np.zeros_like(x)
    for start in range(0, D, k_max):
        cols = np.arange(start, min(D, start + k_max))
        K = len(cols)
        diff = 0.0
        for sign in (1.0, -1.0):
            stacked = np.tile(x, (K, 1)).reshape(K, N, D)
            stacked[np.arange(K), :, cols] += sign * STEP * std
            out = layernorm_forward(stacked.reshape(K * N, D), gamma, np.zeros(D), {"eps": eps})[0]
            diff = diff + sign * out.reshape(K, N, D)
        dx[:, cols] = (np.einsum("nd,knd->nk", dout, diff)) / (2 * STEP * std[:, None])
    def out(g, b):
        return layernorm_forward(x, g, b, {"eps": eps})[0]

    dgamma = np.sum(dout * (out(gamma + 1.0, beta) - out(gamma - 1.0, beta)), axis=0) / 2.0  # linear
    dbeta = np.sum(dout * (out(gamma, beta + 1.0) - out(gamma, beta - 1.0)), axis=0) / 2.0
    return dx, dgamma, dbeta
