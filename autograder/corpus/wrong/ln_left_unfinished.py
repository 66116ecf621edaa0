"""The student never got to layer norm: both cells still hold the scaffold, which returns None
for every output (an empty stub earns no points)."""
import numpy as np

EXPECT = {"layernorm_forward": "loses", "layernorm_backward": "loses", "batchsize_training": "loses"}


def layernorm_forward(x, gamma, beta, ln_param):
    out, cache = None, None
    eps = ln_param.get("eps", 1e-5)
    # YOUR CODE HERE
    pass
    return out, cache


def layernorm_backward(dout, cache):
    dx, dgamma, dbeta = None, None, None
    # YOUR CODE HERE
    pass
    return dx, dgamma, dbeta
