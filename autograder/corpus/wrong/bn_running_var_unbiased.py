"""The forward pass normalises with the biased variance but feeds the unbiased one (ddof=1,
as torch does) into the running variance; only the running average is wrong."""
import numpy as np

EXPECT = {"batchnorm_forward": "loses", "batchsize_training": "loses"}


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        mean = x.mean(0)
        var = x.var(0)
        std = np.sqrt(var + eps)
        xhat = (x - mean) / std
        out = xhat * gamma + beta
        cache = {"xhat": xhat, "std": std, "gamma": gamma}
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * x.var(0, ddof=1)
    elif mode == "test":
        out = (x - running_mean) / np.sqrt(running_var + eps) * gamma + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    N = dout.shape[0]
    dgamma = (dout * xhat).sum(0)
    dbeta = dout.sum(0)
    dxhat = dout * gamma
    xc = xhat * std
    dvar = (dxhat * xc).sum(0) * -0.5 * std**-3
    dmean = -(dxhat / std).sum(0) + dvar * (-2.0 * xc).mean(0)
    dx = dxhat / std + dvar * 2.0 * xc / N + dmean / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, std, gamma = cache["xhat"], cache["std"], cache["gamma"]
    dgamma = (dout * xhat).sum(0)
    dbeta = dout.sum(0)
    dx = gamma / std * (dout - dout.mean(0) - xhat * (dout * xhat).mean(0))
    return dx, dgamma, dbeta
