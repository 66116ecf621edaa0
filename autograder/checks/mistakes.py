"""Known mistakes, used only to name what went wrong (never to grade)."""
import numpy as np



def normalised(x, axis, eps, ddof=0, eps_outside=False):
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, keepdims=True, ddof=ddof)
    std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
    return (x - mean) / std


def forward_mistakes(x, gamma, beta, eps, axis):
    other = 1 - axis
    mistakes = [
        ("the unbiased variance (dividing by N-1); divide by N" if axis == 0 else
         "the unbiased variance (dividing by D-1); divide by D",
         gamma * normalised(x, axis, eps, ddof=1) + beta),
        ("eps added outside the square root; use sqrt(var + eps)",
         gamma * normalised(x, axis, eps, eps_outside=True) + beta),
        ("statistics over the wrong axis; "
         + ("batch norm averages over the examples (axis 0)" if axis == 0
            else "layer norm averages over the features of each example (axis 1)"),
         gamma * normalised(x, other, eps) + beta),
        ("the normalised input without gamma and beta", normalised(x, axis, eps)),
        ("gamma and beta swapped", beta * normalised(x, axis, eps) + gamma),
        ("eps left out", gamma * normalised(x, axis, 0.0) + beta),
    ]
    if eps != 1e-5:
        name = "bn_param" if axis == 0 else "ln_param"
        mistakes.append((f'eps = 1e-5: {name}["eps"] is ignored', gamma * normalised(x, axis, 1e-5) + beta))
    return mistakes


def test_mode_mistakes(x, gamma, beta, eps, mean, var):
    centred = x - mean
    return [
        ("normalising with the batch statistics; test mode must use the running averages",
         gamma * normalised(x, 0, eps) + beta),
        ("the normalised input without gamma and beta; test mode scales and shifts too",
         centred / np.sqrt(var + eps)),
        ("eps left out", gamma * centred / np.sqrt(var) + beta),
        ("eps added outside the square root", gamma * centred / (np.sqrt(var) + eps) + beta),
        ("gamma and beta swapped", beta * centred / np.sqrt(var + eps) + gamma),
        ('eps = 1e-5: bn_param["eps"] is ignored', gamma * centred / np.sqrt(var + 1e-5) + beta),
    ]


# Running averages with one typical mistake each: (description, update), where
# update(running, batch_statistic, momentum, eps, key) gives the new running value.
RUNNING_MISTAKES = [
    ("momentum applied to the batch statistic instead of the old value: use momentum * running + "
     "(1 - momentum) * batch", lambda r, b, m, eps, key: (1 - m) * r + m * b),
    ("the old value, never updated", lambda r, b, m, eps, key: r),
    ("the batch statistic alone, without the running average", lambda r, b, m, eps, key: b),
    ('momentum = 0.9: bn_param["momentum"] is ignored', lambda r, b, m, eps, key: 0.9 * r + 0.1 * b),
    ("eps added to the running variance; store the batch variance itself (eps belongs inside the "
     "square root only)",
     lambda r, b, m, eps, key: m * r + (1 - m) * (b + eps) if key == "running_var" else m * r + (1 - m) * b),
]


def running_mistakes(starts, batches, momentum, eps, key, unbiased=None):
    """What bn_param[key] holds after the batches under each known mistake.

    Inputs:
    - starts: the running value before the first batch
    - batches: the batch statistic of every step (in order)
    - unbiased: the unbiased batch variances, to name that mistake too (running_var only)
    """
    mistakes = []
    for description, update in RUNNING_MISTAKES:
        value = starts
        for batch in batches:
            value = update(value, batch, momentum, eps, key)
        mistakes.append((description, value))
    if unbiased is not None:
        value = starts
        for batch in unbiased:
            value = momentum * value + (1 - momentum) * batch
        mistakes.append(("the unbiased batch variance in the running average", value))
    return mistakes


def dx_scale(x, gamma, dout, eps, axis, dx):
    """The size of the terms dx is made of: max(|dx|, |gamma * dout / std|).

    With few examples (batch norm, small N) dx is a small difference of large terms, so
    correct code can only get it right relative to the terms, not relative to dx itself.
    """
    inv = 1.0 / np.sqrt(x.var(axis=axis, keepdims=True) + eps)
    return float(max(np.max(np.abs(dx)), np.max(np.abs(gamma * dout * inv))))


def gradient_mistakes(x, gamma, dout, eps, axis):
    """Gradients with one typical mistake each, for naming what went wrong."""
    other = 1 - axis
    n, m = x.shape[axis], x.shape[other]
    mean = x.mean(axis=axis, keepdims=True)
    xc = x - mean
    var = (xc**2).mean(axis=axis, keepdims=True)
    inv = 1.0 / np.sqrt(var + eps)
    xhat = xc * inv
    dxhat = dout * gamma
    dvar = -0.5 * inv**3 * (dxhat * xc).sum(axis=axis, keepdims=True)
    dmean = -(dxhat * inv).sum(axis=axis, keepdims=True)

    def closed_form(reduce):
        return inv * (dxhat - reduce(dxhat) - xhat * reduce(dxhat * xhat))

    dx = [
        ("a gradient without the path through the mean", dxhat * inv + dvar * 2 * xc / n),
        ("a gradient without the path through the variance", dxhat * inv + dmean / n),
        ("a gradient that ignores both statistics (dout * gamma / std)", dxhat * inv),
        ("a gradient without the factor gamma",
         inv * (dout - dout.mean(axis=axis, keepdims=True)
                - xhat * (dout * xhat).mean(axis=axis, keepdims=True))),
        ("a gradient whose means run over the wrong axis",
         closed_form(lambda a: a.mean(axis=other, keepdims=True))),
        ("sums where the gradient needs means (a missing 1/" + ("N)" if axis == 0 else "D)"),
         closed_form(lambda a: a.sum(axis=axis, keepdims=True))),
    ]
    if n != m:
        dx.append((f"means divided by {'D' if axis == 0 else 'N'} instead of {'N' if axis == 0 else 'D'}",
                   closed_form(lambda a: a.sum(axis=axis, keepdims=True) / m)))
    std = np.sqrt(var + eps)
    mean_dout = dout.mean(axis=axis, keepdims=True)
    mean_dout_xhat = (dout * xhat).mean(axis=axis, keepdims=True)
    dx += [
        # the closed form gamma / std * (dout - mean(dout) - xhat * mean(dout * xhat)) with one of
        # its terms outside the parentheses: the factor gamma / std is missing there
        ("the closed form with its last term outside the parentheses (it misses the factor gamma / std: "
         "check the brackets)", gamma * inv * (dout - mean_dout) - xhat * mean_dout_xhat),
        ("the closed form with its last two terms outside the parentheses (they miss the factor "
         "gamma / std: check the brackets)", gamma * inv * dout - mean_dout - xhat * mean_dout_xhat),
        # values unpacked from the cache in another order than the forward packed them
        ("gamma and the standard deviation swapped: are the values unpacked from cache in the order "
         "your forward packed them?", std / gamma * (dout - mean_dout - xhat * mean_dout_xhat)),
        ("the centred input x - mean where the gradient needs xhat: are the values unpacked from cache "
         "in the order your forward packed them?",
         gamma * inv * (dout - mean_dout - xc * (dout * xc).mean(axis=axis, keepdims=True))),
        ("the variance where the gradient needs the standard deviation: are the values unpacked from "
         "cache in the order your forward packed them?",
         gamma / (var + eps) * (dout - mean_dout - xhat * mean_dout_xhat)),
    ]
    for size, letter in ((x.shape[other], "N" if other == 0 else "D"), (n, "N" if axis == 0 else "D")):
        # sums over the other axis (for layer norm: over the batch), with gamma outside the sums
        dx.append((f"sums over the wrong axis ({'the examples' if other == 0 else 'the features'}, "
                   f"divided by {letter}); " + ("layer norm's sums run over the features of each example "
                                                "(axis 1)" if axis == 1 else
                                                "batch norm's sums run over the examples (axis 0)"),
                   gamma * inv * (dout - dout.sum(axis=other, keepdims=True) / size
                                  - xhat * (dout * xhat).sum(axis=other, keepdims=True) / size)))
    dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
    return {
        "dx": dx,
        "dgamma": [
            ("the sum of dout without multiplying by the normalised input xhat; "
             "if you return (dx, dbeta, dgamma), swap them", dbeta),
            ("dout times x instead of dout times xhat", (dout * x).sum(axis=0)),
        ],
        "dbeta": [
            ("the sum of dout * xhat, which is dgamma: are dgamma and dbeta swapped?", dgamma),
            ("the mean of dout instead of its sum", dout.mean(axis=0)),
        ],
    }
