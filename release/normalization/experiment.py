"""Support code for the batch-size experiment: data, a small deep net, a solver and plots.

The net calls *your* batch norm and layer norm functions: collect them in a `NormFunctions` and
pass it in. Everything runs in float64 on the CPU and is deterministic given a seed.
"""

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np

# The UCI "Optical Recognition of Handwritten Digits" test set (Alpaydin & Kaynak, 1998;
# CC BY 4.0), as bundled with scikit-learn (sklearn.datasets.load_digits): 1,797 images of
# 8x8 pixels with values 0..16, and their labels. Stored beside this module so nothing is
# downloaded or imported to read it.
DIGITS_FILE = Path(__file__).with_name("digits.npz")

NORMALIZATIONS = (None, "batchnorm", "layernorm")
LABELS = {"none": "no normalization", "batchnorm": "batch norm", "layernorm": "layer norm"}
COLORS = {"none": "tab:gray", "batchnorm": "tab:blue", "layernorm": "tab:orange"}
MARKERS = {"none": "s", "batchnorm": "o", "layernorm": "^"}

# The settings of the experiment in the notebook (see `run_batch_size_experiment`).
HIDDEN_DIMS = (100, 100, 100, 100, 100)
LEARNING_RATE = 1e-3
BATCH_SIZES = (2, 5, 10, 50)  # view "updates": each gets NUM_UPDATES updates
NUM_UPDATES = 600
EXAMPLES_BATCH_SIZES = (5, 10, 50)  # view "examples": each sees NUM_EXAMPLES examples
NUM_EXAMPLES = 6000
NUM_TRAIN_EVAL = 500


def norm_name(normalization):
    """The string key of a normalization: "none", "batchnorm" or "layernorm"."""
    return "none" if normalization is None else normalization


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _digits():
    with np.load(DIGITS_FILE) as digits:
        X, y = digits["images"].astype(np.float64) / 16.0, digits["labels"].astype(np.int64)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def _stratified_split(y, num_val, seed):
    """Indices (train, val): each class keeps its share in the validation set (largest remainders)."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * num_val / len(y)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota)[: num_val - take.sum()]] += 1
    val = np.concatenate([rng.permutation(np.flatnonzero(y == c))[:k] for c, k in zip(classes, take)])
    val = rng.permutation(val)
    train = rng.permutation(np.setdiff1d(np.arange(len(y)), val))
    return train, val


def load_digits_split(seed=0, num_val=500):
    """Load the 8x8 handwritten digits (scikit-learn's copy), split into train and validation.

    Pixel values (0 to 16) are divided by 16, centred with the training mean of each pixel and
    divided by the training standard deviation over all pixels. The split is stratified by class
    and fixed by `seed`; nothing is downloaded.

    Inputs:
    - seed: integer seed of the split.
    - num_val: number of validation images.

    Returns a dict with:
    - X_train: array of shape (1797 - num_val, 64)
    - y_train: integer labels 0..9 of shape (1797 - num_val,)
    - X_val: array of shape (num_val, 64)
    - y_val: integer labels of shape (num_val,)
    """
    X, y = _digits()
    train, val = _stratified_split(y, num_val, seed)
    X_train, X_val, y_train, y_val = X[train], X[val], y[train], y[val]
    mean = X_train.mean(axis=0)
    std = (X_train - mean).std()
    return {
        "X_train": (X_train - mean) / std,
        "y_train": y_train.copy(),
        "X_val": (X_val - mean) / std,
        "y_val": y_val.copy(),
    }


# ----------------------------------------------------------------------------------------------
# The net
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NormFunctions:
    """The four normalization functions the net calls (yours, in the notebook)."""

    batchnorm_forward: Callable
    batchnorm_backward: Callable
    layernorm_forward: Callable
    layernorm_backward: Callable

    @classmethod
    def collect(cls, namespace, batchnorm_backward="batchnorm_backward"):
        """Pick the functions by name out of a module or a dict such as `globals()`.

        Inputs:
        - namespace: a module, or a dict mapping names to functions.
        - batchnorm_backward: the name of the batch norm backward to use, e.g.
          "batchnorm_backward_alt".
        """
        if isinstance(namespace, dict):
            get = namespace.__getitem__
        else:
            get = lambda name: getattr(namespace, name)  # noqa: E731
        return cls(
            get("batchnorm_forward"),
            get(batchnorm_backward),
            get("layernorm_forward"),
            get("layernorm_backward"),
        )


def softmax_loss(scores, y):
    """Mean cross-entropy loss of softmax scores and its gradient.

    Inputs:
    - scores: array of shape (N, C)
    - y: integer labels of shape (N,)

    Returns a tuple of:
    - loss: float
    - dscores: gradient of the loss with respect to scores, shape (N, C)
    """
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    dscores = np.exp(log_probs)
    dscores[rows, y] -= 1.0
    return -log_probs[rows, y].mean(), dscores / len(y)


def _copy_state(norm_params):
    """Deep copies of the normalization parameter dicts (so running statistics stay put)."""
    return [{k: np.copy(v) if isinstance(v, np.ndarray) else v for k, v in p.items()}
            for p in norm_params]


class FullyConnectedNet:
    """A fully connected net {affine - [batch norm | layer norm] - ReLU} x L - affine - softmax.

    All parameters live in one flat float64 vector `theta`; `params` maps the names W1, b1,
    gamma1, beta1, ..., W(L+1), b(L+1) to views of it, so a solver can update them all at once.
    `norm_params[i]` is the bn_param or ln_param dict of hidden layer i + 1; batch norm keeps
    its running statistics there.
    """

    def __init__(self, hidden_dims=HIDDEN_DIMS, normalization=None, norm_fns=None, input_dim=64,
                 num_classes=10, weight_scale=None, seed=0, eps=1e-5, momentum=0.9):
        """
        Inputs:
        - hidden_dims: widths of the hidden layers
        - normalization: None, "batchnorm" or "layernorm"
        - norm_fns: a NormFunctions (required unless normalization is None)
        - input_dim, num_classes: sizes of the input and of the output
        - weight_scale: standard deviation of the initial weights; None means He initialization,
          sqrt(2 / fan_in). Biases and beta start at 0, gamma at 1.
        - seed: seed of the initial weights (anything np.random.default_rng accepts)
        - eps, momentum: put in every bn_param (eps also in every ln_param)
        """
        if normalization not in NORMALIZATIONS:
            raise ValueError(
                f"normalization must be one of {NORMALIZATIONS}, got {normalization!r}")
        if normalization is not None and norm_fns is None:
            raise ValueError("pass norm_fns=NormFunctions(...) to use a normalization")
        self.normalization = normalization
        self.norm_fns = norm_fns
        self.num_layers = len(hidden_dims) + 1
        dims = [input_dim, *hidden_dims, num_classes]

        self._layout, offset = [], 0
        for i in range(1, self.num_layers + 1):
            names = [f"W{i}", f"b{i}"]
            if normalization is not None and i < self.num_layers:
                names += [f"gamma{i}", f"beta{i}"]
            for name in names:
                shape = (dims[i - 1], dims[i]) if name[0] == "W" else (dims[i],)
                size = int(np.prod(shape))
                self._layout.append((name, offset, size, shape))
                offset += size
        self.theta = np.zeros(offset)
        self.params = self._views(self.theta)
        self._grad = np.zeros(offset)
        self._grads = self._views(self._grad)
        # (W, b, gamma, beta) of every layer, of the parameters and of the gradient buffer
        self._param_layers = [self._layer(self.params, i) for i in range(1, self.num_layers + 1)]
        self._grad_layers = [self._layer(self._grads, i) for i in range(1, self.num_layers + 1)]

        rng = np.random.default_rng(seed)
        for i in range(1, self.num_layers + 1):
            W = self.params[f"W{i}"]
            scale = np.sqrt(2.0 / dims[i - 1]) if weight_scale is None else weight_scale
            W[...] = scale * rng.standard_normal(W.shape)
            if f"gamma{i}" in self.params:
                self.params[f"gamma{i}"][...] = 1.0

        self.norm_params = []
        for i in range(1, self.num_layers):
            if normalization == "batchnorm":
                self.norm_params.append({"mode": "train", "eps": eps, "momentum": momentum,
                                         "running_mean": np.zeros(dims[i]),
                                         "running_var": np.zeros(dims[i])})
            elif normalization == "layernorm":
                self.norm_params.append({"eps": eps})

    def _views(self, flat):
        """Named views of a flat vector shaped like `theta`."""
        return {name: flat[offset:offset + size].reshape(shape)
                for name, offset, size, shape in self._layout}

    def _layer(self, tensors, i):
        """(W, b, gamma, beta) of layer i from params or grads; gamma, beta may be None."""
        return (tensors[f"W{i}"], tensors[f"b{i}"], tensors.get(f"gamma{i}"),
                tensors.get(f"beta{i}"))

    def loss(self, X, y=None, mode=None):
        """Scores, or loss and gradients, of a minibatch.

        Inputs:
        - X: array of shape (N, input_dim)
        - y: integer labels of shape (N,), or None
        - mode: "train" (batch norm uses and updates batch statistics) or "test" (batch norm uses
          the running statistics). Default: "test" when y is None, "train" otherwise.

        Returns:
        - if y is None: scores of shape (N, num_classes)
        - otherwise a tuple (loss, grads), grads[name] of the same shape as params[name]
        """
        if y is None:
            return self.scores(X, mode or "test")
        loss, flat_grad = self.flat_gradient(X, y, mode or "train")
        return loss, self._views(flat_grad.copy())

    def scores(self, X, mode="test", norm_params=None):
        """Class scores of shape (N, num_classes); norm_params defaults to the net's own."""
        return self._forward(X, mode, self.norm_params if norm_params is None else norm_params)[0]

    def flat_gradient(self, X, y, mode="train"):
        """Loss and its gradient as one flat vector shaped like `theta`.

        The gradient is a buffer of the net that the next call overwrites.
        """
        scores, caches = self._forward(X, mode, self.norm_params)
        loss, dscores = softmax_loss(scores, y)
        self._backward(dscores, caches)
        return loss, self._grad

    def _forward(self, X, mode, norm_params):
        caches, h = [], X
        for i in range(1, self.num_layers):
            W, b, gamma, beta = self._param_layers[i - 1]
            a = h @ W + b
            norm_cache = None
            if self.normalization == "batchnorm":
                norm_params[i - 1]["mode"] = mode
                a, norm_cache = self.norm_fns.batchnorm_forward(a, gamma, beta, norm_params[i - 1])
            elif self.normalization == "layernorm":
                a, norm_cache = self.norm_fns.layernorm_forward(a, gamma, beta, norm_params[i - 1])
            caches.append((h, norm_cache, a > 0))
            h = np.maximum(a, 0.0)
        W, b, _, _ = self._param_layers[-1]
        caches.append((h, None, None))
        return h @ W + b, caches

    def _backward(self, dscores, caches):
        """Write the gradient of the loss into the flat buffer self._grad."""
        dout = dscores
        for i in range(self.num_layers, 0, -1):
            h, norm_cache, active = caches[i - 1]
            dW, db, dgamma, dbeta = self._grad_layers[i - 1]
            if i < self.num_layers:
                dout = dout * active  # ReLU
                if self.normalization == "batchnorm":
                    dout, dgamma[...], dbeta[...] = self.norm_fns.batchnorm_backward(
                        dout, norm_cache)
                elif self.normalization == "layernorm":
                    dout, dgamma[...], dbeta[...] = self.norm_fns.layernorm_backward(
                        dout, norm_cache)
            np.matmul(h.T, dout, out=dW)
            db[...] = dout.sum(axis=0)
            if i > 1:
                dout = dout @ self._param_layers[i - 1][0].T


# ----------------------------------------------------------------------------------------------
# Gradient check
# ----------------------------------------------------------------------------------------------


def numerical_gradient(f, x, h=1e-6):
    """Centred-difference gradient of a scalar function f() of the array x (changed in place).

    Inputs:
    - f: function of no arguments that returns a float and reads x
    - x: float64 array; each entry is nudged by +-h and restored
    - h: step

    Returns an array of the shape of x.
    """
    grad = np.zeros_like(x)
    flat_x, flat_grad = x.reshape(-1), grad.reshape(-1)
    for k in range(flat_x.size):
        old = flat_x[k]
        flat_x[k] = old + h
        f_plus = f()
        flat_x[k] = old - h
        f_minus = f()
        flat_x[k] = old
        flat_grad[k] = (f_plus - f_minus) / (2 * h)
    return grad


def gradient_check_net(norm_fns, normalization, seed=0, hidden_dims=(7, 6, 5), num_inputs=5,
                       input_dim=4, num_classes=3):
    """Compare the analytic gradient of a small net (train mode) with centred differences.

    gamma, beta and the biases are set away from 1 and 0, so a wrong backward cannot hide
    behind them.

    Inputs:
    - norm_fns: a NormFunctions (may be None when normalization is None)
    - normalization: None, "batchnorm" or "layernorm"
    - seed: seed of the net and of the random minibatch
    - hidden_dims, num_inputs, input_dim, num_classes: sizes of the net and of the minibatch

    Returns a dict mapping each parameter name to the largest error of its gradient, relative
    to the largest gradient entry of the whole net.
    """
    rng = np.random.default_rng(seed)
    model = FullyConnectedNet(hidden_dims, normalization, norm_fns, input_dim=input_dim,
                              num_classes=num_classes, seed=rng.integers(2**32))
    for name, value in model.params.items():
        if name.startswith("gamma"):
            value[...] = 1.0 + 0.3 * rng.standard_normal(value.shape)
        elif name.startswith("beta") or name.startswith("b"):
            value[...] = 0.3 * rng.standard_normal(value.shape)
    X = rng.standard_normal((num_inputs, input_dim))
    y = rng.integers(num_classes, size=num_inputs)

    analytic = model.flat_gradient(X, y)[1].copy()
    numeric = numerical_gradient(lambda: model.flat_gradient(X, y)[0], model.theta)
    # Errors are relative to the largest gradient entry of the whole net: the bias gradients
    # before a batch norm are exactly zero, so a per-array relative error would be 0 / 0.
    scale = max(np.max(np.abs(analytic)), np.max(np.abs(numeric)))
    a, n = model._views(analytic), model._views(numeric)
    return {name: float(np.max(np.abs(a[name] - n[name])) / scale) for name in a}


# ----------------------------------------------------------------------------------------------
# Training and evaluation
# ----------------------------------------------------------------------------------------------


def evaluate(model, X, y, batch_size=None):
    """Loss and accuracy of a model on (X, y), without changing the model.

    Inputs:
    - model: a FullyConnectedNet
    - X: array of shape (N, input_dim); y: integer labels of shape (N,)
    - batch_size: None evaluates in test mode (running statistics, the way the net is used after
      training). An integer evaluates in train mode on consecutive batches of that size (batch
      statistics, the way the net computes during training), on copies of the running
      statistics, so nothing is updated.

    Returns a tuple (loss, accuracy) of floats.
    """
    if batch_size is None:
        scores = model.scores(X, "test")
    else:
        state = _copy_state(model.norm_params)
        parts = [model.scores(X[k:k + batch_size], "train", state)
                 for k in range(0, len(X), batch_size)]
        scores = np.concatenate(parts)
    loss, _ = softmax_loss(scores, y)
    return float(loss), float(np.mean(scores.argmax(axis=1) == y))


def batch_indices(rng, num_examples, batch_size, num_updates):
    """Minibatch indices: epochs of shuffled examples, cut into whole batches.

    Returns an integer array of shape (num_updates, batch_size).
    """
    per_epoch = num_examples // batch_size
    epochs = -(-num_updates // per_epoch)
    order = [rng.permutation(num_examples)[:per_epoch * batch_size] for _ in range(epochs)]
    return np.concatenate(order).reshape(-1, batch_size)[:num_updates]


def _adam_step(theta, grad, m, v, scratch, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8):
    """One Adam update of theta in place (m, v: moment estimates; scratch: work space)."""
    m *= beta1
    m += np.multiply(grad, 1 - beta1, out=scratch)
    v *= beta2
    np.multiply(grad, grad, out=scratch)
    scratch *= 1 - beta2
    v += scratch
    # theta -= lr * m_hat / (sqrt(v_hat) + eps), with the bias corrections folded into scalars
    correction = np.sqrt(1 - beta2**t)
    np.sqrt(v, out=scratch)
    scratch += eps * correction
    np.divide(m, scratch, out=scratch)
    scratch *= learning_rate * correction / (1 - beta1**t)
    theta -= scratch


def _progress_bar(**options):
    """A tqdm progress bar (imported here: loading it takes longer than a graded replay)."""
    from tqdm.auto import tqdm

    return tqdm(**options)


def train(model, data, batch_size, num_updates, learning_rate=LEARNING_RATE, seed=0,
          checkpoints=None, num_train_eval=NUM_TRAIN_EVAL, progress=True, train_mode_accuracy=True,
          optimizer="adam"):
    """Train a model with Adam (or plain SGD) on minibatches and evaluate it at checkpoints.

    Inputs:
    - model: a FullyConnectedNet (changed in place)
    - data: dict from load_digits_split
    - batch_size, num_updates: size of each minibatch and number of parameter updates
    - learning_rate: Adam's step size (beta1 = 0.9, beta2 = 0.999, eps = 1e-8)
    - seed: seed of the minibatch order
    - checkpoints: increasing update counts after which the model is evaluated; default: the
      last update only
    - num_train_eval: the first num_train_eval training images are the fixed subset on which
      training accuracy is measured
    - progress: True shows a progress bar; False shows none; a tqdm bar is advanced instead
    - train_mode_accuracy: False skips train_acc_batch (it is then equal to train_acc)
    - optimizer: "adam", or "sgd" (theta -= learning_rate * grad; unlike Adam, it shows a gradient
      that is off by a constant factor)

    Returns a dict of numpy arrays (K = number of checkpoints):
    - loss: training loss of each update, shape (num_updates,)
    - checkpoints: shape (K,)
    - train_acc, val_acc, val_loss: test-mode accuracy on the training subset and accuracy and
      loss on the validation set, shape (K,)
    - train_acc_batch: accuracy on the training subset in train mode (batch statistics from
      batches of batch_size), shape (K,); equal to train_acc for a net without batch norm
    """
    checkpoints = np.array([num_updates] if checkpoints is None else checkpoints)
    if np.any(np.diff(checkpoints) <= 0) or checkpoints[0] < 1 or checkpoints[-1] > num_updates:
        raise ValueError(f"checkpoints must increase within 1..{num_updates}: {checkpoints}")
    X, y = data["X_train"], data["y_train"]
    X_sub, y_sub = X[:num_train_eval], y[:num_train_eval]
    batches = batch_indices(np.random.default_rng(seed), len(X), batch_size, num_updates)

    history = {"loss": np.zeros(num_updates), "checkpoints": checkpoints}
    for key in ("train_acc", "train_acc_batch", "val_acc", "val_loss"):
        history[key] = np.zeros(len(checkpoints))

    bar = progress if not isinstance(progress, bool) else _progress_bar(
        total=num_updates, desc=f"{norm_name(model.normalization)}, batch {batch_size}",
        disable=not progress)
    m, v, scratch = (np.zeros_like(model.theta) for _ in range(3))
    k = 0
    for t in range(1, num_updates + 1):
        idx = batches[t - 1]
        history["loss"][t - 1], grad = model.flat_gradient(X[idx], y[idx])
        if optimizer == "sgd":
            model.theta -= learning_rate * grad
        else:
            _adam_step(model.theta, grad, m, v, scratch, t, learning_rate)
        bar.update(1)
        while k < len(checkpoints) and checkpoints[k] == t:
            history["val_loss"][k], history["val_acc"][k] = evaluate(model, data["X_val"],
                                                                     data["y_val"])
            history["train_acc"][k] = evaluate(model, X_sub, y_sub)[1]
            history["train_acc_batch"][k] = (
                evaluate(model, X_sub, y_sub, batch_size)[1]
                if model.normalization == "batchnorm" and train_mode_accuracy else history["train_acc"][k])
            k += 1
    if bar is not progress:
        bar.close()
    return history


# ----------------------------------------------------------------------------------------------
# The experiment
# ----------------------------------------------------------------------------------------------


VIEWS = {
    "updates": "Equal number of updates ({} per run)",
    "examples": "Equal number of training examples ({} per run)",
}
METRICS = ("train_acc", "train_acc_batch", "val_acc", "val_loss")


def run_batch_size_experiment(norm_fns, batch_sizes=BATCH_SIZES, num_updates=NUM_UPDATES,
                              examples_batch_sizes=EXAMPLES_BATCH_SIZES,
                              num_examples=NUM_EXAMPLES, normalizations=NORMALIZATIONS,
                              hidden_dims=HIDDEN_DIMS, learning_rate=LEARNING_RATE, seed=0,
                              data=None, progress=True):
    """Train one net per normalization and batch size; compare them in two views.

    View "updates": every batch size in batch_sizes gets num_updates parameter updates.
    View "examples": every batch size in examples_batch_sizes sees num_examples training
    examples, that is num_examples // batch_size updates (the design of training every batch
    size for the same number of epochs).

    One run per (normalization, batch size) serves both views: it is trained for the larger
    update count it needs and evaluated after each count it needs. The step size is constant,
    so stopping a run early is the same as a shorter run. All nets of one seed start from the
    same weights, and all runs with the same batch size see the same minibatches.

    Inputs:
    - norm_fns: a NormFunctions
    - batch_sizes, num_updates: the batch sizes and update count of view "updates"
    - examples_batch_sizes, num_examples: the batch sizes and example count of view "examples"
    - normalizations: a subset of (None, "batchnorm", "layernorm")
    - hidden_dims, learning_rate: the net and Adam's step size
    - seed: seed of the initial weights and of the minibatch order
    - data: dict from load_digits_split (loaded when None)
    - progress: show a progress bar

    Returns a dict:
    - settings: dict of the arguments above (except norm_fns and data)
    - normalizations: list of names ("none", "batchnorm", "layernorm")
    - histories: histories[name][batch_size] is the history returned by `train`
    - views: views["updates"] and views["examples"] are dicts with keys title, batch_sizes
      (B,), num_updates (B,), and for each of train_acc, train_acc_batch, val_acc and val_loss
      a dict mapping each normalization name to an array of shape (B,)
    """
    data = load_digits_split() if data is None else data
    init_seed, order_seed = np.random.SeedSequence(seed).generate_state(2)
    counts = {"updates": {b: num_updates for b in batch_sizes},
              "examples": {b: num_examples // b for b in examples_batch_sizes}}
    held_fixed = {"updates": num_updates, "examples": num_examples}
    needed = {}
    for view in counts.values():
        for b, n in view.items():
            needed.setdefault(b, set()).add(n)
    names = [norm_name(n) for n in normalizations]

    bar = _progress_bar(total=len(normalizations) * sum(max(n) for n in needed.values()),
                        desc="batch-size experiment", disable=not progress)
    histories = {name: {} for name in names}
    for normalization, name in zip(normalizations, names):
        for b in sorted(needed):
            model = FullyConnectedNet(hidden_dims, normalization, norm_fns, seed=init_seed)
            bar.set_postfix_str(f"{name}, batch size {b}")
            histories[name][b] = train(model, data, b, max(needed[b]), learning_rate,
                                       seed=order_seed, checkpoints=sorted(needed[b]),
                                       progress=bar)
    bar.close()
    if getattr(bar, "container", None) is not None:
        # a notebook progress widget: saved with the notebook, it could not be shown again after
        # reopening ("model not found"), so it leaves nothing behind
        from IPython.display import clear_output

        clear_output()

    views = {}
    for view, count in counts.items():
        sizes = sorted(count)
        summary = {"title": VIEWS[view].format(held_fixed[view]), "batch_sizes": np.array(sizes),
                   "num_updates": np.array([count[b] for b in sizes])}
        for metric in METRICS:
            summary[metric] = {
                name: np.array([_at(histories[name][b], count[b], metric) for b in sizes])
                for name in names}
        views[view] = summary

    settings = dict(batch_sizes=tuple(batch_sizes), num_updates=num_updates,
                    examples_batch_sizes=tuple(examples_batch_sizes), num_examples=num_examples,
                    normalizations=tuple(normalizations), hidden_dims=tuple(hidden_dims),
                    learning_rate=learning_rate, seed=seed)
    return {"settings": settings, "normalizations": names, "histories": histories,
            "views": views}


def _at(history, num_updates, metric):
    """The value of a metric in a history at the checkpoint after num_updates updates."""
    k = int(np.flatnonzero(history["checkpoints"] == num_updates)[0])
    return history[metric][k]


def results_table(results):
    """The numbers behind the figures, as text: one block per view, one row per net.

    Columns are batch sizes; each cell is validation accuracy / training accuracy in test mode,
    and for batch norm a second row gives the training accuracy in train mode.
    """
    lines = []
    for summary in results["views"].values():
        sizes, counts = summary["batch_sizes"], summary["num_updates"]
        lines.append(summary["title"] + ": validation / training accuracy")
        lines.append(f"{'':22}" + "".join(f"{f'batch {b}':>15}" for b in sizes))
        lines.append(f"{'':22}" + "".join(f"{f'{n} updates':>15}" for n in counts))
        for name in results["normalizations"]:
            cells = "".join(f"{f'{v:.3f} / {t:.3f}':>15}" for v, t in
                            zip(summary["val_acc"][name], summary["train_acc"][name]))
            lines.append(f"{LABELS[name]:22}{cells}")
            if name == "batchnorm":
                cells = "".join(f"{f'{t:.3f}':>15}" for t in summary["train_acc_batch"][name])
                lines.append(f"{'  training, train mode':22}{cells}")
        lines.append("")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------


def plot_accuracy(results):
    """Training and validation accuracy against batch size, one panel per view and metric.

    Accuracies are in test mode, except the dashed line: batch norm's training accuracy in train
    mode (batches of the training batch size, normalized with their own statistics). Each panel
    has its own vertical scale.

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt  # here, not above: grading never draws, and pyplot takes 0.6 s to load

    views = results["views"]
    fig, axes = plt.subplots(2, len(views), figsize=(5.5 * len(views), 7.5), squeeze=False)
    for col, view in enumerate(views.values()):
        sizes = view["batch_sizes"]
        for name in results["normalizations"]:
            style = dict(color=COLORS[name], marker=MARKERS[name], label=LABELS[name])
            axes[0, col].plot(sizes, view["train_acc"][name], **style)
            axes[1, col].plot(sizes, view["val_acc"][name], **style)
            if name == "batchnorm":
                axes[0, col].plot(sizes, view["train_acc_batch"][name], color=COLORS[name],
                                  marker="x", linestyle="--",
                                  label="batch norm, train mode (batch statistics)")
        axes[0, col].set_title(
            f"{view['title']}\ntraining accuracy ({NUM_TRAIN_EVAL} training images)")
        axes[1, col].set_title(f"{view['title']}\nvalidation accuracy")
        for ax in axes[:, col]:
            ax.set_xscale("log")
            ax.set_xticks(sizes)
            ax.set_xticklabels([f"{b}\n({n} upd.)" for b, n in zip(sizes, view["num_updates"])])
            ax.minorticks_off()
            ax.set_xlabel("batch size (number of updates)")
            ax.set_ylabel("accuracy")
            ax.grid(alpha=0.3)
    axes[0, 0].legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_losses(results, view="updates", window=25):
    """Training loss against update, one panel per normalization, one line per batch size.

    Inputs:
    - results: dict from run_batch_size_experiment
    - view: "updates" or "examples"; selects the batch sizes and how long each is shown
    - window: width of the moving average that smooths the minibatch losses

    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    summary = results["views"][view]
    names = results["normalizations"]
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), sharey=True,
                             squeeze=False)
    colors = plt.cm.viridis(np.linspace(0.0, 0.85, len(summary["batch_sizes"])))
    kernel = np.ones(window) / window
    for ax, name in zip(axes[0], names):
        for color, b, n in zip(colors, summary["batch_sizes"], summary["num_updates"]):
            smooth = np.convolve(results["histories"][name][b]["loss"][:n], kernel, "valid")
            ax.plot(np.arange(window, n + 1), smooth, color=color, label=f"batch size {b}")
        ax.set_title(LABELS[name])
        ax.set_xlabel("update")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel(f"training loss (mean of {window} updates)")
    # one legend for all panels, below them, where it covers no curve
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)
    fig.suptitle(summary["title"])
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


# ----------------------------------------------------------------------------------------------
# Replay: a short, deterministic training run used for grading
# ----------------------------------------------------------------------------------------------


def replay(norm_fns, normalization, seed=0, num_updates=40, batch_size=8,
           hidden_dims=(32, 32), learning_rate=0.05, num_checkpoints=2):
    """Train a small net briefly with fixed settings and return what it computed.

    Two correct implementations of the normalization functions give the same numbers up to
    rounding; a wrong normalization axis or wrong running averages change them clearly.

    Inputs:
    - norm_fns: a NormFunctions
    - normalization: None, "batchnorm" or "layernorm"
    - seed: seed of the initial weights and of the minibatch order
    - num_updates, batch_size, hidden_dims, learning_rate: the training run (plain SGD: a
      gradient off by a constant factor changes every update, where Adam would hide it)
    - num_checkpoints: number of evenly spaced evaluations in test mode

    Returns a dict of numpy arrays (K = num_checkpoints):
    - loss: training loss of each update, shape (num_updates,)
    - checkpoints: update counts of the evaluations, shape (K,)
    - val_loss, val_acc, train_acc: test-mode loss and accuracy, shape (K,)
    """
    data = load_digits_split()
    init_seed, order_seed = np.random.SeedSequence(seed).generate_state(2)
    model = FullyConnectedNet(hidden_dims, normalization, norm_fns, seed=init_seed)
    checkpoints = np.linspace(0, num_updates, num_checkpoints + 1).astype(int)[1:]
    history = train(model, data, batch_size, num_updates, learning_rate, seed=order_seed,
                    checkpoints=checkpoints, progress=False, train_mode_accuracy=False, optimizer="sgd")
    keys = ("loss", "checkpoints", "val_loss", "val_acc", "train_acc")
    return {key: history[key] for key in keys}
