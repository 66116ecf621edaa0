"""The autograded conclusions of the batch-size experiment are true for a correct implementation:
each expected answer holds in at least 19 of 20 seeds (about a minute and a half on 2 cores)."""

import copy

import numpy as np
import pytest

from autograder import batchsize


def fake_results(val_updates, val_examples, train_acc_bn5=0.9, train_acc_batch_bn5=0.7):
    """Results with the structure of run_batch_size_experiment's "views" and chosen numbers.

    val_updates[name] lists the validation accuracy at batch sizes (2, 5, 10, 50);
    val_examples[name] at batch sizes (5, 10, 50).
    """
    names = ("none", "batchnorm", "layernorm")
    train_acc = {name: np.full(4, 1.0) for name in names}
    train_acc_batch = copy.deepcopy(train_acc)
    train_acc["batchnorm"][1], train_acc_batch["batchnorm"][1] = train_acc_bn5, train_acc_batch_bn5
    return {"views": {
        "updates": {"batch_sizes": np.array([2, 5, 10, 50]), "train_acc": train_acc,
                    "train_acc_batch": train_acc_batch,
                    "val_acc": {k: np.array(v) for k, v in val_updates.items()}},
        "examples": {"batch_sizes": np.array([5, 10, 50]),
                     "val_acc": {k: np.array(v) for k, v in val_examples.items()}},
    }}


TYPICAL_UPDATES = {"none": [0.93, 0.96, 0.97, 0.97], "batchnorm": [0.25, 0.90, 0.96, 0.975],
                   "layernorm": [0.94, 0.96, 0.97, 0.97]}
TYPICAL_EXAMPLES = {"none": [0.965, 0.97, 0.96], "batchnorm": [0.94, 0.96, 0.96],
                    "layernorm": [0.965, 0.97, 0.963]}


def test_expected_answers_are_among_the_options():
    assert batchsize.EXPECTED.keys() == batchsize.OPTIONS.keys()
    for grade_id, expected in batchsize.EXPECTED.items():
        assert grade_id.startswith("batchsize_")
        assert expected in batchsize.OPTIONS[grade_id]


def test_conclusions_of_typical_results_are_the_expected_answers():
    results = fake_results(TYPICAL_UPDATES, TYPICAL_EXAMPLES)
    assert batchsize.conclusions(results) == batchsize.EXPECTED


def test_conclusions_follow_the_numbers_not_the_expectation():
    """Every question can come out differently: the study could fail."""
    updates = copy.deepcopy(TYPICAL_UPDATES)
    updates["layernorm"] = [0.30, 0.85, 0.96, 0.97]  # layer norm collapses like batch norm
    updates["none"] = [0.10, 0.90, 0.96, 0.97]  # ... and the plain net even more
    updates["batchnorm"][1] = 0.99  # batch norm at 5 beats 50 under equal updates
    answers = batchsize.conclusions(fake_results(updates, TYPICAL_EXAMPLES, 0.7, 0.9))
    assert answers == {"batchsize_most_sensitive": "none", "batchsize_layernorm_like": "batchnorm",
                       "batchsize_bn_mode": "train", "batchsize_seed_claim": "updates"}
    examples = copy.deepcopy(TYPICAL_EXAMPLES)
    examples["batchnorm"][0] = 0.99
    assert batchsize.conclusions(fake_results(updates, examples))["batchsize_seed_claim"] == "both"
    only_examples = batchsize.conclusions(fake_results(TYPICAL_UPDATES, examples))
    assert only_examples["batchsize_seed_claim"] == "examples"


@pytest.fixture(scope="module")
def study():
    return batchsize.seed_study(range(20), workers=2)


def test_every_expected_answer_holds_in_19_of_20_seeds(study):
    assert study["seeds"] == list(range(20))
    short = {grade_id: n for grade_id, n in study["agree"].items() if n < batchsize.MIN_AGREEMENT}
    assert not short, "\n" + batchsize.format_table(study)
    assert all(len(m) == 20 for m in study["margins"].values())
    assert len(study["runs"]) == 20


def test_answer_problem_accepts_the_answer_and_explains_the_rest():
    for grade_id, expected in batchsize.EXPECTED.items():
        assert batchsize.answer_problem(grade_id, expected) is None
        assert batchsize.answer_problem(grade_id, f"  {expected.upper()} ") is None
        assert "one of the strings" in batchsize.answer_problem(grade_id, None)
        assert "not one of the options" in batchsize.answer_problem(grade_id, "maybe")
        for wrong in set(batchsize.OPTIONS[grade_id]) - {expected}:
            message = batchsize.answer_problem(grade_id, wrong)
            assert "not what a correct run shows" in message
            assert expected not in message.split(".")[0]  # the verdict does not give it away


def test_margins_are_positive_exactly_when_the_conclusion_is_expected():
    typical = fake_results(TYPICAL_UPDATES, TYPICAL_EXAMPLES)
    assert all(m > 0 for m in batchsize.margins(typical).values())
    updates = copy.deepcopy(TYPICAL_UPDATES)
    updates["layernorm"] = [0.30, 0.85, 0.96, 0.97]
    updates["none"] = [0.10, 0.90, 0.96, 0.97]
    updates["batchnorm"][1] = 0.99
    odd = fake_results(updates, TYPICAL_EXAMPLES, 0.7, 0.9)
    answers, margins = batchsize.conclusions(odd), batchsize.margins(odd)
    for grade_id, expected in batchsize.EXPECTED.items():
        assert (margins[grade_id] > 0) == (answers[grade_id] == expected), grade_id
