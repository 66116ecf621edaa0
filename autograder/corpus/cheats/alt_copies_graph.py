"""batchnorm_backward_alt is a verbatim copy of this student's own graph backward pass (the
staged chain rule, node by node), pasted into the closed-form cell: the gradient is right, but
the simplified closed form the cell asks for was never derived. The forward pass and the graph
backward are honest; layer norm is the instructor's solution."""
import numpy as np

EXPECT = {"batchnorm_backward_alt": "loses"}  # the training replay is graded on its gradients (README)


def batchnorm_forward(x, gamma, beta, bn_param):
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))

    cache = None
    if mode == "train":
        mu = np.sum(x, axis=0) / N
        xmu = x - mu
        var = np.sum(xmu ** 2, axis=0) / N
        sqrtvar = np.sqrt(var + eps)
        ivar = 1.0 / sqrtvar
        xhat = xmu * ivar
        out = gamma * xhat + beta
        cache = (xhat, xmu, ivar, sqrtvar, gamma)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    elif mode == "test":
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
    else:
        raise ValueError('Invalid forward batchnorm mode "%s"' % mode)

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    xhat, xmu, ivar, sqrtvar, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = np.ones_like(dout) * dvar / N
    dxmu2 = 2 * xmu * dsq
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    dx = dxmu1 + dxmu2 + np.ones_like(dout) * dmu / N
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    xhat, xmu, ivar, sqrtvar, gamma = cache
    N = dout.shape[0]
    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * xhat, axis=0)
    dxhat = dout * gamma
    divar = np.sum(dxhat * xmu, axis=0)
    dxmu1 = dxhat * ivar
    dsqrtvar = -divar / sqrtvar ** 2
    dvar = 0.5 * dsqrtvar / sqrtvar
    dsq = np.ones_like(dout) * dvar / N
    dxmu2 = 2 * xmu * dsq
    dmu = -np.sum(dxmu1 + dxmu2, axis=0)
    dx = dxmu1 + dxmu2 + np.ones_like(dout) * dmu / N
    return dx, dgamma, dbeta
