"""What the hidden tests check, with the messages students read.

Each graded part (the grade_id of an answer cell) has one check function. It receives a
`student` (anything with `.function(name, keep=(), timeout=None)`, `.value(name)` and `.facts`:
the notebook's own namespace, or a proxy to a sandboxed kernel) and a seeded random
generator, calls the student's code on fresh inputs, compares with `autograder.reference`,
and adds independently weighted checks to a Verdict.

The check functions never trust what they get back: every value is validated before it is
compared, exceptions from student code become messages, and nothing here depends on where
the student's code runs.

- verdicts: Check, Verdict and the Ledger of a check's failures
- compare: comparing arrays, calling student functions, fresh inputs
- mistakes: known mistakes, to name what went wrong
- forward, backward: the five functions
- answers: the preprocessing analogy and the batch-size conclusions
- training: the replayed training run of the batch-size experiment
"""
import numpy as np

from autograder import course
from autograder.checks.answers import _answer_check, check_preprocessing_analogy
from autograder.checks.backward import (check_batchnorm_backward, check_batchnorm_backward_alt,
                                        check_layernorm_backward)
from autograder.checks.compare import RTOL, rel_error
from autograder.checks.forward import check_batchnorm_forward, check_layernorm_forward
from autograder.checks.training import check_batchsize_training, warm_up
from autograder.checks.verdicts import Check, GradingAborted, StudentError, TooSlow, Verdict

__all__ = ["RTOL", "CHECKS", "Check", "GradingAborted", "StudentError", "TooSlow", "Verdict", "check_part",
           "rel_error", "warm_up"]


def check_part(part, student, seed=None, assignment_id=course.DEFAULT_ASSIGNMENT):
    """Grade one part of one student's notebook.

    Inputs:
    - part: grade_id of the answer cell (a key of the manifest's points)
    - student: object with .function(name, keep=()) and .value(name)
    - seed: int seed for the fresh inputs; default: the manifest's grading seed

    Returns a Verdict.
    """
    assignment = course.assignment(assignment_id)
    if part not in CHECKS:
        raise KeyError(f"no hidden checks for part {part!r}")
    seed = assignment.grading_seed if seed is None else seed
    rng = np.random.default_rng(seed)
    verdict = Verdict(part=part, points=assignment.points[part])
    getattr(student, "called", set()).clear()  # watched calls are noted per part
    try:
        CHECKS[part](student, rng, verdict)
    except StudentError as error:
        verdict.note = str(error)
    if not verdict.checks:
        verdict.checks.append(Check("could not be graded", 1.0, False, verdict.note))
    return verdict


# ---------------------------------------------------------------------------------------


CHECKS = {
    "batchnorm_forward": check_batchnorm_forward,
    "batchnorm_backward": check_batchnorm_backward,
    "batchnorm_backward_alt": check_batchnorm_backward_alt,
    "layernorm_forward": check_layernorm_forward,
    "layernorm_backward": check_layernorm_backward,
    "preprocessing_analogy": check_preprocessing_analogy,
    "batchsize_training": check_batchsize_training,
    **{grade_id: _answer_check(grade_id) for grade_id in (
        "batchsize_most_sensitive", "batchsize_layernorm_like", "batchsize_bn_mode", "batchsize_seed_claim")},
}
