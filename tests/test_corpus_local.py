"""The corpus that tests the tests, graded in this process (fast; no nbgrader, no sandbox).

Every entry of autograder/corpus/{wrong,valid,examples} is graded with `grade_locally` at the
manifest's grading seed: a part its EXPECT marks "loses" must score below its points, every other
part must keep exactly its points. Wrong entries make one realistic mistake each, valid entries
are correct solutions written differently, examples are the students `make demo` grades.
"""
import ast
import functools
from pathlib import Path

import pytest

from autograder import checks, corpus, course

ASSIGNMENT = course.assignment()
PARTS = [part for part in ASSIGNMENT.auto_parts if part in checks.CHECKS]
POINTS = ASSIGNMENT.points
FAMILIES = {
    "batchnorm_forward": ("batchnorm_backward", "batchnorm_backward_alt"),
    "layernorm_forward": ("layernorm_backward",),
}

# The mistakes the corpus must cover, each by the entry that makes it.
REQUIRED_WRONG = {
    "unbiased variance": "bn_unbiased_variance",
    "eps outside the square root": "bn_eps_outside_sqrt",
    "eps missing": "ln_eps_missing",
    "batch norm over the wrong axis (rows)": "bn_normalises_rows",
    "layer norm over the wrong axis (columns: really batch norm)": "ln_normalises_columns",
    "reversed momentum": "bn_reversed_momentum",
    "running statistics not stored in bn_param": "bn_running_stats_not_stored",
    "running variance from the unbiased variance": "bn_running_var_unbiased",
    "running statistics updated in test mode": "bn_updates_running_in_test",
    "test mode using batch statistics": "bn_test_uses_batch_stats",
    "hard-coded eps (batch norm)": "bn_hardcoded_eps",
    "hard-coded eps (layer norm)": "ln_hardcoded_eps",
    "hard-coded momentum": "bn_hardcoded_momentum",
    "wrong default momentum": "bn_wrong_default_momentum",
    "wrong default eps": "ln_wrong_default_eps",
    "gamma and beta swapped": "bn_gamma_beta_swapped",
    "no scale and shift": "ln_missing_scale_shift",
    "x modified in place (batch norm)": "bn_inplace_x",
    "x modified in place (layer norm)": "ln_inplace_x",
    "dout modified in place (batch norm)": "bn_inplace_dout",
    "dout modified in place (layer norm)": "ln_inplace_dout",
    "backward without the mean path": "bn_backward_no_mean_path",
    "backward without the variance path": "bn_backward_no_variance_path",
    "layer norm backward without the variance path": "ln_backward_no_variance_path",
    "dgamma as the sum of dout": "bn_dgamma_sum_of_dout",
    "dbeta as the mean of dout": "bn_dbeta_mean",
    "dbeta over the wrong axis": "ln_dbeta_over_features",
    "backward returns (dx, dbeta, dgamma)": "bn_alt_returns_dbeta_dgamma",
    "forward returns (cache, out)": "ln_forward_returns_cache_first",
    "dx without the factor gamma": "bn_dx_missing_gamma",
    "layer norm backward with means over the batch": "ln_backward_batch_axis",
    "layer norm backward dividing by N instead of D": "ln_backward_divides_by_n",
    "float32 computation": "ln_float32",
    "keepdims leaves dgamma of shape (1, D)": "bn_alt_keepdims_shapes",
    "shape bug that is wrong only when N == D": "shared_helper_wrong_when_square",
    "shape bug that crashes unless N == D": "ln_mean_without_keepdims",
    "shape bug on a single feature (D == 1)": "bn_squeeze_single_feature",
    "analogy: group norm's row option for layer norm": "analogy_ln_group_norm_row",
    "analogy: batch norm and layer norm swapped": "analogy_swapped",
    "closed form wrong while the graph version is right": "bn_alt_missing_1_over_n",
    "eps folded into the running variance": "bn_eps_in_running_var",
    "test mode without gamma and beta": "bn_test_mode_without_gamma_beta",
    "running statistics of shape (1, D)": "bn_running_stats_keepdims",
    "closed form unpacking the cache in another order than the forward packed it": "bn_alt_cache_order",
    "closed form missing a factor through a misplaced parenthesis": "bn_alt_misplaced_parenthesis",
    "layer norm backward summing over the batch, gamma outside the sums": "ln_backward_sums_over_batch_gamma_outside",
}
REQUIRED_VALID = {
    "np.std/np.var with keepdims and a dict cache": "std_var_keepdims_dict_cache",
    "einsum": "einsum_everywhere",
    "fully staged computation graph": "staged_graph",
    "closed form through the centred dout": "centred_dout_closed_form",
    "layer norm through the transpose": "ln_via_transpose",
    "cache of x, gamma, eps only; recomputed in backward": "recompute_in_backward",
    "helpers and a dataclass cache": "dataclass_cache_helpers",
    "prints to stderr and warns": "prints_and_warns",
    "in-place operations on its own temporaries": "inplace_on_temporaries",
    "running statistics through bn_param.setdefault": "setdefault_running_stats",
}
REQUIRED_EXAMPLES = ("perfect", "blank", "partly_right")

# Where the hidden checks diagnose a mistake, the student reads its name: (part, words).
DIAGNOSED = {
    "bn_unbiased_variance": ("batchnorm_forward", "unbiased variance"),
    "bn_eps_outside_sqrt": ("batchnorm_forward", "outside the square root"),
    "ln_eps_missing": ("layernorm_forward", "eps left out"),
    "bn_normalises_rows": ("batchnorm_forward", "wrong axis"),
    "ln_normalises_columns": ("layernorm_forward", "wrong axis"),
    "bn_reversed_momentum": ("batchnorm_forward", "momentum applied to the batch statistic"),
    "bn_running_stats_not_stored": ("batchnorm_forward", "never updated"),
    "bn_running_var_unbiased": ("batchnorm_forward", "unbiased batch variance"),
    "bn_updates_running_in_test": ("batchnorm_forward", "must not update"),
    "bn_test_uses_batch_stats": ("batchnorm_forward", "batch statistics"),
    "bn_gamma_beta_swapped": ("batchnorm_forward", "gamma and beta swapped"),
    "ln_missing_scale_shift": ("layernorm_forward", "without gamma and beta"),
    "bn_inplace_x": ("batchnorm_forward", "changed its input x"),
    "ln_inplace_x": ("layernorm_forward", "changed its input x"),
    "bn_inplace_dout": ("batchnorm_backward", "changed its input dout"),
    "ln_inplace_dout": ("layernorm_backward", "changed its input dout"),
    "bn_backward_no_mean_path": ("batchnorm_backward", "path through the mean"),
    "bn_backward_no_variance_path": ("batchnorm_backward", "path through the variance"),
    "ln_backward_no_variance_path": ("layernorm_backward", "path through the variance"),
    "bn_dgamma_sum_of_dout": ("batchnorm_backward", "without multiplying"),
    "bn_dbeta_mean": ("batchnorm_backward_alt", "mean of dout"),
    "bn_dx_missing_gamma": ("batchnorm_backward", "factor gamma"),
    "ln_float32": ("layernorm_forward", "dtype float32"),
    "bn_alt_keepdims_shapes": ("batchnorm_backward_alt", "shape (1, "),
    "analogy_ln_group_norm_row": ("preprocessing_analogy", "group norm"),
    "bn_eps_in_running_var": ("batchnorm_forward", "eps added to the running variance"),
    "bn_test_mode_without_gamma_beta": ("batchnorm_forward", "without gamma and beta; test mode"),
    "bn_running_stats_keepdims": ("batchnorm_forward", "has shape (1, "),
    "bn_alt_cache_order": ("batchnorm_backward_alt", "unpacked from cache in the order"),
    "bn_alt_misplaced_parenthesis": ("batchnorm_backward_alt", "check the brackets"),
    "ln_backward_sums_over_batch_gamma_outside": ("layernorm_backward", "sums over the wrong axis"),
}


@functools.lru_cache(maxsize=None)
def _load(kind):
    """The entries of one kind, parsed once per process: {name: Entry}."""
    return {entry.name: entry for entry in corpus.load(kind)}


def _entries(*kinds):
    return [entry for kind in kinds for entry in _load(kind).values()]


def _params(*kinds):
    """pytest params of the entries of some kinds."""
    return [pytest.param(entry, id=f"{entry.kind}/{entry.name}") for entry in _entries(*kinds)]


@functools.lru_cache(maxsize=None)
def _grade(kind, name):
    return corpus.grade_locally(_load(kind)[name])


def _scores(entry):
    return {part: verdict.score for part, verdict in _grade(entry.kind, entry.name).items()}


def _mismatches(entry):
    """Parts whose score disagrees with the entry's EXPECT, as readable lines."""
    lines = []
    for part, verdict in _grade(entry.kind, entry.name).items():
        if entry.expectation(part) == "loses":
            if verdict.score >= verdict.points:
                lines.append(f"{part}: expected to lose points, scored {verdict.score:g}/{verdict.points:g}")
        elif verdict.score != verdict.points:
            lines.append(f"{part}: expected full marks, scored {verdict.score:g}/{verdict.points:g}\n"
                         + verdict.report())
    return lines


# ---------------------------------------------------------------------------------------
# Scores


@pytest.mark.parametrize("entry", _params("wrong"))
def test_wrong_entry_loses_points_exactly_in_its_expected_parts(entry):
    assert not _mismatches(entry), f"{entry.name}: {entry.description}\n" + "\n".join(_mismatches(entry))


@pytest.mark.parametrize("entry", _params("valid"))
def test_valid_entry_keeps_full_marks_on_every_part(entry):
    assert not _mismatches(entry), f"{entry.name}: {entry.description}\n" + "\n".join(_mismatches(entry))


@pytest.mark.parametrize("entry", [p for p in _params("examples") if not p.values[0].blank])
def test_example_student_scores_as_expected(entry):
    assert not _mismatches(entry), f"{entry.name}: {entry.description}\n" + "\n".join(_mismatches(entry))


@pytest.mark.parametrize("entry", [p for p in _params("examples") if p.values[0].blank])
def test_blank_example_scores_zero_on_every_autograded_part(entry):
    scores = _scores(entry)
    assert set(scores) == set(PARTS)
    assert scores == {part: 0.0 for part in PARTS}


@pytest.mark.parametrize("entry", _params("wrong"))
def test_wrong_entry_expects_a_loss_and_suffers_one(entry):
    losing = [part for part in PARTS if entry.expectation(part) == "loses"]
    assert losing, f"{entry.name} lists no part that loses points"
    scores = _scores(entry)
    assert any(scores[part] < POINTS[part] for part in losing)


@pytest.mark.parametrize("entry", _params("wrong", "examples"))
def test_losing_part_tells_the_student_why(entry):
    for part, verdict in _grade(entry.kind, entry.name).items():
        if entry.expectation(part) != "loses":
            continue
        failed = [check for check in verdict.checks if not check.passed]
        assert failed, f"{part}: no failed check, although it should lose points"
        for check in failed:
            assert check.message.strip(), f"{part}: check {check.name!r} fails without a message"


@pytest.mark.parametrize("name", sorted(DIAGNOSED))
def test_diagnosed_mistake_is_named_in_the_feedback(name):
    part, words = DIAGNOSED[name]
    report = _grade("wrong", name)[part].report()
    assert words in report, f"{name}: the feedback of {part} does not say {words!r}:\n{report}"


# ---------------------------------------------------------------------------------------
# The entries themselves


@pytest.mark.parametrize("entry", _params("wrong", "valid", "examples"))
def test_entry_defines_whole_families(entry):
    """A student's forward and backward agree on their own cache, so they come together."""
    for forward, backwards in FAMILIES.items():
        if forward in entry.functions:
            missing = [name for name in backwards if name not in entry.functions]
            assert not missing, f"{entry.name} defines {forward} but not {', '.join(missing)}"


@pytest.mark.parametrize("entry", _params("wrong", "valid", "examples"))
def test_entry_is_well_formed(entry):
    assert entry.description, f"{entry.name} has no docstring naming what it shows"
    assert set(entry.expect) <= set(PARTS), f"unknown parts in EXPECT: {set(entry.expect) - set(PARTS)}"
    assert set(entry.expect.values()) <= {"loses", "full"}
    if entry.kind == "valid":
        assert "loses" not in entry.expect.values()
    # a misspelt answer function would silently become a helper and the solution would be graded
    tree = ast.parse(Path(corpus.HERE / entry.kind / f"{entry.name}.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name.startswith(("batchnorm", "layernorm")):
            assert node.name in entry.functions, f"{node.name} is not the name of an answer cell"


def test_corpus_has_at_least_28_wrong_and_8_valid_entries():
    assert len(_load("wrong")) >= 28
    assert len(_load("valid")) >= 8


@pytest.mark.parametrize("kind, required", [("wrong", REQUIRED_WRONG), ("valid", REQUIRED_VALID)])
def test_corpus_covers_the_listed_cases(kind, required):
    names = set(_load(kind))
    missing = {case: name for case, name in required.items() if name not in names}
    assert not missing, f"{kind}/ lacks entries for: {missing}"


def test_demo_examples_include_perfect_blank_and_partly_right_students():
    examples = _load("examples")
    assert set(REQUIRED_EXAMPLES) <= set(examples)
    assert examples["blank"].blank
    assert not examples["perfect"].functions and not examples["perfect"].assignments
    mistakes = [name for name in examples if name not in REQUIRED_EXAMPLES]
    assert 2 <= len(mistakes) <= 3, f"typical-mistake students: {mistakes}"
    assert all("loses" in examples[name].expect.values() for name in mistakes)


FUNCTION_PARTS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "batchsize_training",
                  "layernorm_backward")


@pytest.mark.parametrize("entry", _params("wrong"))
def test_a_mistake_costs_the_same_points_whatever_the_seed(entry):
    """Fresh inputs differ per student and submission; what a mistake costs must not."""
    from autograder import audit
    from autograder.hidden import LocalStudent
    import nbformat
    import numpy as np

    notebook, namespace = corpus.notebook(entry), {"np": np}
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, f"<{entry.name}>", "exec"), namespace)
    release = nbformat.read(str(ASSIGNMENT.release_dir / f"{ASSIGNMENT.notebooks[0]}.ipynb"), as_version=4)
    student = LocalStudent(namespace, facts=audit.grading_facts(notebook, release))
    for part in FUNCTION_PARTS:
        scores = {checks.check_part(part, student, seed=seed).score for seed in (1, 2_000_003, 7**20, 2**61 - 1)}
        assert len(scores) == 1, f"{part}: {sorted(scores)} depending on the seed"
