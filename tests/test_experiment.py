"""The released support module of the batch-size experiment (source/normalization/experiment.py):
data, the net and its gradient, the solver, reproducibility, plots, and the grading replay."""

import ast
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from autograder import course, reference  # noqa: E402

experiment = course.support_module("experiment")
REFERENCE = experiment.NormFunctions.collect(reference)
NORMALIZATIONS = [None, "batchnorm", "layernorm"]
# A short experiment with the structure of the real one, for tests of behaviour (not results).
TINY = dict(batch_sizes=(2, 5, 50), num_updates=12, examples_batch_sizes=(5, 50),
            num_examples=100, hidden_dims=(12, 10), progress=False)


def relative_gap(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


# ----------------------------------------------------------------------------------------------
# An alternative, differently written but correct implementation of the four functions:
# batch norm through explicit sums and the step-by-step graph, layer norm as batch norm of the
# transposed input.
# ----------------------------------------------------------------------------------------------


def alt_batchnorm_forward(x, gamma, beta, bn_param):
    eps, momentum = bn_param.get("eps", 1e-5), bn_param.get("momentum", 0.9)
    D = x.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D))
    running_var = bn_param.get("running_var", np.zeros(D))
    if bn_param["mode"] == "test":
        return gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta, None
    n = x.shape[0]
    mu = np.sum(x, axis=0) / n
    centred = x - mu
    var = np.sum(centred**2, axis=0) / n
    std = (var + eps) ** 0.5
    xhat = centred / std
    bn_param["running_mean"] = momentum * running_mean + (1.0 - momentum) * mu
    bn_param["running_var"] = momentum * running_var + (1.0 - momentum) * var
    return gamma * xhat + beta, (centred, std, xhat, gamma)


def alt_batchnorm_backward(dout, cache):
    centred, std, xhat, gamma = cache
    n = dout.shape[0]
    dxhat = dout * gamma
    dstd = -np.sum(dxhat * centred, axis=0) / std**2
    dvar = dstd / (2.0 * std)
    dcentred = dxhat / std + 2.0 * centred * dvar / n
    dx = dcentred - np.sum(dcentred, axis=0) / n
    return dx, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


def alt_layernorm_forward(x, gamma, beta, ln_param):
    bn_param = {"mode": "train", "eps": ln_param.get("eps", 1e-5)}
    _, cache = alt_batchnorm_forward(x.T, 1.0, 0.0, bn_param)
    xhat = cache[2].T
    return gamma * xhat + beta, (cache, xhat, gamma)


def alt_layernorm_backward(dout, cache):
    bn_cache, xhat, gamma = cache
    dxT, _, _ = alt_batchnorm_backward((dout * gamma).T, bn_cache)
    return dxT.T, np.sum(dout * xhat, axis=0), np.sum(dout, axis=0)


ALTERNATIVE = experiment.NormFunctions(alt_batchnorm_forward, alt_batchnorm_backward,
                                       alt_layernorm_forward, alt_layernorm_backward)


# Two wrong implementations that pass a superficial look.
def frozen_batchnorm_forward(x, gamma, beta, bn_param):
    """Right in train mode, but never stores its running statistics."""
    return alt_batchnorm_forward(x, gamma, beta, dict(bn_param))


def batch_axis_layernorm_forward(x, gamma, beta, ln_param):
    """Normalises every feature over the batch: batch norm without running statistics."""
    bn_param = {"mode": "train", "eps": ln_param.get("eps", 1e-5)}
    return alt_batchnorm_forward(x, gamma, beta, bn_param)


FROZEN_BN = experiment.NormFunctions(frozen_batchnorm_forward, alt_batchnorm_backward,
                                     alt_layernorm_forward, alt_layernorm_backward)
BATCH_AXIS_LN = experiment.NormFunctions(alt_batchnorm_forward, alt_batchnorm_backward,
                                         batch_axis_layernorm_forward, alt_batchnorm_backward)


@pytest.fixture(scope="module")
def data():
    return experiment.load_digits_split()


@pytest.fixture(scope="module")
def tiny_results():
    return experiment.run_batch_size_experiment(REFERENCE, seed=3, **TINY)


# ----------------------------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------------------------


def test_digits_split_has_the_documented_shapes_and_every_class_on_both_sides(data):
    assert data["X_train"].shape == (1297, 64) and data["X_val"].shape == (500, 64)
    assert data["y_train"].shape == (1297,) and data["y_val"].shape == (500,)
    assert data["X_train"].dtype == np.float64
    for y in (data["y_train"], data["y_val"]):
        assert np.issubdtype(y.dtype, np.integer)
        assert set(np.unique(y)) == set(range(10))


def test_digits_are_standardised_with_training_statistics_only(data):
    np.testing.assert_allclose(data["X_train"].mean(axis=0), 0.0, atol=1e-12)
    assert data["X_train"].std() == pytest.approx(1.0)
    assert np.abs(data["X_val"].mean(axis=0)).max() > 1e-3  # not re-centred on itself


def test_digits_split_is_fixed_by_its_seed(data):
    again, other = experiment.load_digits_split(seed=0), experiment.load_digits_split(seed=1)
    for key in data:
        np.testing.assert_array_equal(again[key], data[key])
    assert not np.array_equal(other["y_val"], data["y_val"])


def test_minibatches_visit_every_example_once_per_epoch():
    batches = experiment.batch_indices(np.random.default_rng(0), 23, 5, 9)
    assert batches.shape == (9, 5)
    first_epoch, second_epoch = batches[:4].ravel(), batches[4:8].ravel()
    assert len(set(first_epoch)) == 20 and len(set(second_epoch)) == 20
    assert not np.array_equal(first_epoch, second_epoch)


# ----------------------------------------------------------------------------------------------
# The net
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_net_gives_scores_and_gradients_of_the_right_shapes(normalization):
    model = experiment.FullyConnectedNet((9, 8, 7), normalization, REFERENCE, input_dim=6,
                                         num_classes=4, seed=0)
    X = np.random.default_rng(1).standard_normal((5, 6))
    y = np.array([0, 1, 2, 3, 0])
    assert model.loss(X).shape == (5, 4)
    loss, grads = model.loss(X, y)
    assert np.isfinite(loss) and loss > 0
    assert grads.keys() == model.params.keys()
    for name, value in model.params.items():
        assert grads[name].shape == value.shape and grads[name].dtype == np.float64
    has_norm = normalization is not None
    assert ("gamma1" in model.params) == has_norm and ("gamma3" in model.params) == has_norm
    assert "gamma4" not in model.params  # no normalization after the output layer


def test_net_with_a_normalization_needs_the_functions():
    with pytest.raises(ValueError, match="norm_fns"):
        experiment.FullyConnectedNet((5,), "batchnorm")
    with pytest.raises(ValueError, match="normalization"):
        experiment.FullyConnectedNet((5,), "groupnorm", REFERENCE)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_whole_net_gradient_matches_centred_differences(normalization):
    errors = experiment.gradient_check_net(REFERENCE, normalization)
    assert max(errors.values()) <= 1e-6, errors


def test_gradient_check_of_the_net_catches_a_wrong_backward():
    def wrong_layernorm_backward(dout, cache):
        dx, dgamma, dbeta = reference.layernorm_backward(dout, cache)
        return dx, 1.1 * dgamma, dbeta

    wrong = experiment.NormFunctions(reference.batchnorm_forward, reference.batchnorm_backward,
                                     reference.layernorm_forward, wrong_layernorm_backward)
    errors = experiment.gradient_check_net(wrong, "layernorm")
    assert max(errors[name] for name in errors if name.startswith("gamma")) > 1e-3
    assert max(errors[name] for name in errors if not name.startswith("gamma")) <= 1e-6


def test_train_mode_updates_running_statistics_and_test_mode_leaves_them(data):
    model = experiment.FullyConnectedNet((10, 10), "batchnorm", REFERENCE, seed=0)
    model.loss(data["X_val"][:20])  # test mode
    assert all(not p["running_var"].any() for p in model.norm_params)
    model.loss(data["X_val"][:20], data["y_val"][:20])  # train mode
    assert all(p["running_var"].all() for p in model.norm_params)
    before = [p["running_mean"].copy() for p in model.norm_params]
    experiment.evaluate(model, data["X_val"], data["y_val"])
    experiment.evaluate(model, data["X_val"], data["y_val"], batch_size=5)
    for p, old in zip(model.norm_params, before):
        np.testing.assert_array_equal(p["running_mean"], old)


def test_train_mode_evaluation_depends_on_the_batch_but_test_mode_does_not(data):
    model = experiment.FullyConnectedNet((10, 10), "batchnorm", REFERENCE, seed=0)
    experiment.train(model, data, 10, 30, progress=False)
    X, y = data["X_val"][:40], data["y_val"][:40]
    assert experiment.evaluate(model, X, y, batch_size=2) != experiment.evaluate(model, X, y, 20)
    one = model.scores(X[:1])
    np.testing.assert_allclose(one, model.scores(X)[:1], rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Training, reproducibility, the experiment
# ----------------------------------------------------------------------------------------------


def train_history(data, normalization, seed, num_updates=25, checkpoints=(10, 25)):
    model = experiment.FullyConnectedNet((16, 16), normalization, REFERENCE, seed=seed)
    return experiment.train(model, data, 5, num_updates, seed=seed, checkpoints=checkpoints,
                            progress=False)


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_training_is_reproducible_with_a_seed(data, normalization):
    first, again = train_history(data, normalization, 1), train_history(data, normalization, 1)
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other = train_history(data, normalization, 2)
    assert not np.array_equal(first["loss"], other["loss"])


def test_training_lowers_the_loss(data):
    model = experiment.FullyConnectedNet((32, 32), "layernorm", REFERENCE, seed=0)
    history = experiment.train(model, data, 20, 150, checkpoints=(1, 150), progress=False)
    assert history["loss"][-20:].mean() < 0.5 * history["loss"][:20].mean()
    assert history["val_acc"][1] > history["val_acc"][0] + 0.3


def test_stopping_a_run_early_equals_a_shorter_run(data):
    """One run serves both views of the experiment: this is why that is honest."""
    short = train_history(data, "batchnorm", 4, num_updates=10, checkpoints=(10,))
    long = train_history(data, "batchnorm", 4, num_updates=25, checkpoints=(10, 25))
    np.testing.assert_array_equal(long["loss"][:10], short["loss"])
    for key in ("train_acc", "train_acc_batch", "val_acc", "val_loss"):
        assert long[key][0] == short[key][0]


def test_checkpoints_outside_the_run_are_refused(data):
    model = experiment.FullyConnectedNet((8,), None)
    for checkpoints in ((5, 30), (10, 5), (0, 10)):
        with pytest.raises(ValueError, match="checkpoints"):
            experiment.train(model, data, 5, 20, checkpoints=checkpoints, progress=False)


def test_history_has_one_loss_per_update_and_metrics_per_checkpoint(data):
    history = train_history(data, "batchnorm", 0)
    assert history["loss"].shape == (25,)
    for key in ("train_acc", "train_acc_batch", "val_acc", "val_loss"):
        assert history[key].shape == (2,)
    assert ((history["val_acc"] >= 0) & (history["val_acc"] <= 1)).all()


def test_experiment_views_hold_updates_or_examples_fixed(tiny_results):
    updates, examples = tiny_results["views"]["updates"], tiny_results["views"]["examples"]
    np.testing.assert_array_equal(updates["batch_sizes"], [2, 5, 50])
    np.testing.assert_array_equal(updates["num_updates"], [12, 12, 12])
    np.testing.assert_array_equal(examples["batch_sizes"], [5, 50])
    np.testing.assert_array_equal(examples["num_updates"], [20, 2])
    assert tiny_results["normalizations"] == ["none", "batchnorm", "layernorm"]
    for view in (updates, examples):
        for key in ("train_acc", "train_acc_batch", "val_acc", "val_loss"):
            assert set(view[key]) == {"none", "batchnorm", "layernorm"}
            assert all(v.shape == view["batch_sizes"].shape for v in view[key].values())
    # batch size 5 runs once: 20 updates, evaluated after 12 (updates) and 20 (examples)
    history = tiny_results["histories"]["layernorm"][5]
    assert history["loss"].shape == (20,)
    assert updates["val_acc"]["layernorm"][1] == history["val_acc"][0]
    assert examples["val_acc"]["layernorm"][0] == history["val_acc"][1]


def test_every_network_starts_from_the_same_weights_and_sees_the_same_batches():
    """Normalizations that do nothing (gamma = 1, beta = 0 and zero gradients for them) must
    train exactly like the plain network: same initial weights, same minibatches."""
    def identity_forward(x, gamma, beta, param):
        return gamma * x + beta, None

    def identity_backward(dout, cache):
        return dout, np.zeros(dout.shape[1]), np.zeros(dout.shape[1])

    identity = experiment.NormFunctions(identity_forward, identity_backward,
                                        identity_forward, identity_backward)
    results = experiment.run_batch_size_experiment(identity, seed=5, **TINY)
    for b, plain in results["histories"]["none"].items():
        for name in ("batchnorm", "layernorm"):
            np.testing.assert_array_equal(results["histories"][name][b]["loss"], plain["loss"])


def test_experiment_is_reproducible_with_a_seed(tiny_results):
    again = experiment.run_batch_size_experiment(REFERENCE, seed=3, **TINY)
    other = experiment.run_batch_size_experiment(REFERENCE, seed=4, **TINY)
    for view in ("updates", "examples"):
        for name in tiny_results["normalizations"]:
            for key in ("val_loss", "train_acc", "train_acc_batch"):
                np.testing.assert_array_equal(again["views"][view][key][name],
                                              tiny_results["views"][view][key][name])
    assert not np.array_equal(other["views"]["updates"]["val_loss"]["batchnorm"],
                              tiny_results["views"]["updates"]["val_loss"]["batchnorm"])


def test_nets_without_batch_norm_score_the_same_in_both_modes(tiny_results):
    for view in tiny_results["views"].values():
        for name in ("none", "layernorm"):
            np.testing.assert_array_equal(view["train_acc_batch"][name], view["train_acc"][name])


def test_progress_bar_can_be_switched_off(data, capfd):
    experiment.run_batch_size_experiment(REFERENCE, **TINY)
    model = experiment.FullyConnectedNet((8,), "batchnorm", REFERENCE)
    experiment.train(model, data, 5, 5, progress=False)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    experiment.train(model, data, 5, 5, progress=True)
    assert "5/5" in capfd.readouterr().err


def test_plots_are_labelled_and_warning_free(tiny_results):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures = [experiment.plot_accuracy(tiny_results),
                   experiment.plot_losses(tiny_results, "updates", window=3),
                   experiment.plot_losses(tiny_results, "examples", window=2)]
    for fig in figures:
        axes = fig.get_axes()
        assert axes and all(ax.get_title() for ax in axes)
        assert all(ax.get_xlabel() for ax in axes)
        assert any(ax.get_ylabel() for ax in axes)
        assert any(ax.get_legend() is not None for ax in axes) or fig.legends
        plt.close(fig)
    labels = [t.get_text() for t in figures[0].get_axes()[0].get_legend().get_texts()]
    assert {"no normalization", "batch norm", "layer norm"} <= set(labels)


def test_results_table_lists_every_net_and_batch_size(tiny_results):
    table = experiment.results_table(tiny_results)
    for text in ("no normalization", "batch norm", "layer norm", "train mode", "batch 50"):
        assert text in table


def test_norm_functions_collect_from_a_namespace():
    namespace = {name: getattr(reference, name) for name in dir(reference)}
    fns = experiment.NormFunctions.collect(namespace, "batchnorm_backward_alt")
    assert fns.batchnorm_backward is reference.batchnorm_backward_alt
    fns = experiment.NormFunctions.collect(reference)
    assert fns.layernorm_forward is reference.layernorm_forward


def test_support_module_imports_only_what_students_have():
    allowed = {"numpy", "matplotlib", "tqdm", "IPython"} | set(sys.stdlib_module_names)
    tree = ast.parse(Path(experiment.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module.split(".")[0])
    assert imported and imported <= allowed, imported - allowed


# ----------------------------------------------------------------------------------------------
# The replay used for grading
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("normalization", NORMALIZATIONS)
def test_replay_of_two_correct_implementations_agrees(normalization):
    ours, theirs = (experiment.replay(fns, normalization) for fns in (ALTERNATIVE, REFERENCE))
    assert ours.keys() == theirs.keys()
    assert ours["loss"].shape == (40,) and ours["val_loss"].shape == (2,)
    for key in theirs:
        assert relative_gap(ours[key], theirs[key]) <= 1e-8, key


def test_replay_is_deterministic_and_depends_on_its_seed():
    first = experiment.replay(REFERENCE, "batchnorm")
    again = experiment.replay(REFERENCE, "batchnorm")
    for key in first:
        np.testing.assert_array_equal(first[key], again[key])
    other = experiment.replay(REFERENCE, "batchnorm", seed=1)
    assert relative_gap(other["loss"], first["loss"]) > 0.1


def test_replay_exposes_batch_norm_without_running_statistics():
    # Measured (40 updates): the test-mode validation loss is off by a factor of about 6e4 (the
    # net divides by sqrt(0 + eps) at test time); the training losses agree to rounding (2e-16).
    broken = experiment.replay(FROZEN_BN, "batchnorm")
    right = experiment.replay(REFERENCE, "batchnorm")
    assert relative_gap(broken["loss"], right["loss"]) <= 1e-8
    assert relative_gap(broken["val_loss"], right["val_loss"]) > 1.0


def test_replay_exposes_layer_norm_over_the_batch_axis():
    # Measured (40 updates): training losses differ by up to 0.18 relative, validation losses by 0.08.
    broken = experiment.replay(BATCH_AXIS_LN, "layernorm")
    right = experiment.replay(REFERENCE, "layernorm")
    assert relative_gap(broken["loss"], right["loss"]) > 0.1
    assert relative_gap(broken["val_loss"], right["val_loss"]) > 0.05


def test_shipped_digits_are_scikit_learns_copy_of_the_data():
    """digits.npz (released with the notebook) holds exactly sklearn.datasets.load_digits()."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    with np.load(experiment.DIGITS_FILE) as shipped:
        assert np.array_equal(shipped["images"], digits.data)
        assert np.array_equal(shipped["labels"], digits.target)


def test_the_split_is_stratified_and_disjoint():
    X, y = experiment._digits()
    train, val = experiment._stratified_split(y, 500, seed=3)
    assert len(val) == 500 and len(train) == len(y) - 500
    assert not set(train) & set(val)
    share = np.bincount(y[val], minlength=10) / 500
    assert np.all(np.abs(share - np.bincount(y, minlength=10) / len(y)) < 0.01)
