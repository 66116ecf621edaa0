"""Every reduction is an np.einsum (sums over the batch as "nd->d", over features as "nd->n");
bn_analogy and ln_analogy are written as expressions that evaluate to the right ints."""
import numpy as np

bn_analogy = int("3")
ln_analogy = 4 - 2


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mean = np.einsum("nd->d", x) / N
        xc = x - mean
        var = np.einsum("nd,nd->d", xc, xc) / N
        inv = (var + eps) ** -0.5
        xhat = np.einsum("nd,d->nd", xc, inv)
        out = np.einsum("nd,d->nd", xhat, gamma) + beta
        cache = (xhat, inv, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        scale = gamma * (running_var + eps) ** -0.5
        out = np.einsum("nd,d->nd", x - running_mean, scale) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, inv, gamma = cache
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dxhat = dout * gamma
    # xhat = xc * inv, inv = (var + eps)^-1/2, var = sum(xc^2)/N, xc = x - mean
    dinv = np.einsum("nd,nd->d", dxhat, xhat) / inv           # sum(dxhat * xc)
    dvar = dinv * -0.5 * inv**3
    dxc = dxhat * inv + 2.0 * (xhat / inv) * dvar / N
    dx = dxc - np.einsum("nd->d", dxc) / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, inv, gamma = cache
    N = dout.shape[0]
    dbeta = np.einsum("nd->d", dout)
    dgamma = np.einsum("nd,nd->d", dout, xhat)
    dx = np.einsum("d,nd->nd", gamma * inv / N, N * dout - dbeta - xhat * dgamma)
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    eps = ln_param.get("eps", 1e-5)
    D = x.shape[1]
    xc = x - (np.einsum("nd->n", x) / D)[:, None]
    inv = (np.einsum("nd,nd->n", xc, xc) / D + eps) ** -0.5
    xhat = np.einsum("nd,n->nd", xc, inv)
    out = np.einsum("nd,d->nd", xhat, gamma) + beta
    return out, (xhat, inv, gamma)


def layernorm_backward(dout, cache):
    xhat, inv, gamma = cache
    D = dout.shape[1]
    dxhat = np.einsum("nd,d->nd", dout, gamma)
    mean_dxhat = np.einsum("nd->n", dxhat) / D
    proj = np.einsum("nd,nd->n", dxhat, xhat) / D
    dx = np.einsum("n,nd->nd", inv, dxhat - mean_dxhat[:, None] - xhat * proj[:, None])
    return dx, np.einsum("nd,nd->d", dout, xhat), np.einsum("nd->d", dout)
