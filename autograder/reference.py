"""Reference implementations of the five functions students write (SPEC section 2).

Each function is copied verbatim into an answer cell of the instructor notebook; nbgrader
replaces each region between the BEGIN SOLUTION and END SOLUTION comment lines with
"# YOUR CODE HERE" and "pass" in the student version, so every region sits where a pass
statement is valid and the scaffold around it leaves the outputs at None.
"""

import numpy as np


def batchnorm_forward(x, gamma, beta, bn_param):
    """
    Forward pass for batch normalization.

    During training each feature is normalised with the mean and the biased variance
    (divide by N) of the minibatch, then scaled by gamma and shifted by beta. Running
    averages of the mean and variance are kept with momentum:

        running = momentum * running + (1 - momentum) * batch_statistic

    At test time the running averages replace the batch statistics and nothing is
    updated. The input arrays are not modified; new running arrays are stored back
    into bn_param.

    Inputs:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift parameter of shape (D,)
    - bn_param: Dictionary with the following keys:
      - mode: "train" or "test"; required
      - eps: Constant for numeric stability; default 1e-5
      - momentum: Constant for the running mean / variance; default 0.9
      - running_mean: Array of shape (D,), running mean of the features; default zeros
      - running_var: Array of shape (D,), running variance of the features; default zeros

    Returns a tuple of:
    - out: Normalized, scaled and shifted data, of shape (N, D)
    - cache: Values needed in the backward pass (train mode; None in test mode)
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    out, cache = None, None
    if mode == "train":
        # Normalise with the batch mean and biased variance, update the running averages,
        # and keep in cache what the backward pass needs.
        ### BEGIN SOLUTION
        mean = x.mean(axis=0)
        xc = x - mean
        var = np.einsum("ij,ij->j", xc, xc) / N  # biased: divide by N
        std = np.sqrt(var + eps)
        inv_std = 1.0 / std
        out = xc * (gamma * inv_std)  # = gamma * xhat, with xhat = xc / std
        out += beta
        cache = (xc, std, inv_std, gamma)

        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
        ### END SOLUTION
    elif mode == "test":
        # Normalise with the running averages; update nothing.
        ### BEGIN SOLUTION
        out = x - running_mean
        out *= gamma / np.sqrt(running_var + eps)
        out += beta
        ### END SOLUTION
    else:
        raise ValueError(f'Invalid batchnorm mode "{mode}": expected "train" or "test"')

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """
    Backward pass for batch normalization, through the computation graph.

    Propagate the upstream gradient back through each node of the forward pass in
    turn (scale and shift, normalisation, inverse standard deviation, variance,
    centring, mean), adding up the gradients of every branch that reaches x.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from batchnorm_forward in train mode

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    xhat = xc * inv_std

    # out = gamma * xhat + beta
    dbeta = dout.sum(axis=0)
    dgamma = (dout * xhat).sum(axis=0)
    dxhat = dout * gamma
    # xhat = xc * inv_std
    dinv_std = (dxhat * xc).sum(axis=0)
    dxc = dxhat * inv_std
    # inv_std = 1 / std
    dstd = -dinv_std / std**2
    # std = sqrt(var + eps)
    dvar = 0.5 * dstd / std
    # var = sum(xc**2) / N: the second path from xc
    dxc += 2.0 * xc * dvar / N
    # xc = x - mean, mean = sum(x) / N: the direct path and the path through the mean
    dmean = -dxc.sum(axis=0)
    dx = dxc + dmean / N
    ### END SOLUTION
    return dx, dgamma, dbeta


def batchnorm_backward_alt(dout, cache):
    """
    Backward pass for batch normalization, by the simplified closed form.

    Work the chain rule through the normalisation on paper first: for each feature,
    the gradient with respect to x is a combination of dout, its mean over the batch
    and xhat, so it takes a single expression once dgamma and dbeta are known.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from batchnorm_forward in train mode

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    xc, std, inv_std, gamma = cache
    N = xc.shape[0]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, xc) * inv_std  # = sum(dout * xhat)
    # dx = gamma / std * (dout - mean(dout) - xhat * mean(dout * xhat)), means over the batch
    dx = xc * (inv_std * dgamma / N)
    dx += dbeta / N
    np.subtract(dout, dx, out=dx)
    dx *= gamma * inv_std
    ### END SOLUTION
    return dx, dgamma, dbeta


def layernorm_forward(x, gamma, beta, ln_param):
    """
    Forward pass for layer normalization.

    Each example (row) is normalised with the mean and the biased variance of its own
    D features, then every feature is scaled by gamma and shifted by beta. Statistics
    never mix examples, so train and test time are the same and there are no running
    averages. The input arrays are not modified.

    Inputs:
    - x: Data of shape (N, D)
    - gamma: Scale parameter of shape (D,)
    - beta: Shift parameter of shape (D,)
    - ln_param: Dictionary with the following keys:
      - eps: Constant for numeric stability; default 1e-5

    Returns a tuple of:
    - out: Normalized, scaled and shifted data, of shape (N, D)
    - cache: Values needed in the backward pass
    """
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)
    ### BEGIN SOLUTION
    D = x.shape[1]
    xhat = x - x.mean(axis=1, keepdims=True)
    var = np.einsum("ij,ij->i", xhat, xhat)[:, None] / D  # biased: divide by D
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat *= inv_std
    out = xhat * gamma
    out += beta
    cache = (xhat, inv_std, gamma)
    ### END SOLUTION
    return out, cache


def layernorm_backward(dout, cache):
    """
    Backward pass for layer normalization.

    The same chain rule as for batch normalization with the roles of the axes swapped:
    means are taken over the features of each example, while dgamma and dbeta still
    sum over the examples.

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: Variable of intermediates from layernorm_forward

    Returns a tuple of:
    - dx: Gradient with respect to inputs x, of shape (N, D)
    - dgamma: Gradient with respect to scale parameter gamma, of shape (D,)
    - dbeta: Gradient with respect to shift parameter beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    ### BEGIN SOLUTION
    xhat, inv_std, gamma = cache
    D = xhat.shape[1]
    dbeta = dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", dout, xhat)
    # dx = (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) / std, means over the features
    dx = dout * gamma  # dxhat, turned into dx in place
    proj = np.einsum("ij,ij->i", dx, xhat)[:, None] / D
    dx -= dx.mean(axis=1, keepdims=True)
    dx -= xhat * proj
    dx *= inv_std
    ### END SOLUTION
    return dx, dgamma, dbeta
