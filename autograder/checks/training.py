"""The hidden check of the batch-size experiment's training run (batchsize_training)."""
import functools
import math

import numpy as np

from autograder import course, reference, text
from autograder.checks.compare import RTOL, rel_error
from autograder.checks.verdicts import Check, GradingAborted, StudentError


REPLAY_BACKWARD = "batchnorm_backward_alt"  # the experiment trains with the closed form


def warm_up():
    """Load what every student's replay needs once (the experiment module and its data)."""
    course.support_module("experiment").load_digits_split()


def _replay_problem(name, got, expected, keys, hint):
    """'' when the replay's arrays under keys agree with the reference run; otherwise why not."""
    for key in keys:
        value = got[key]
        if not np.all(np.isfinite(value)):
            first = int(np.flatnonzero(~np.isfinite(value))[0])
            return f"{name}: {key} became NaN or inf (at entry {first}). {hint}"
        error = rel_error(value.astype(float), expected[key].astype(float))
        if error > RTOL:
            where = int(np.argmax(np.abs(value - expected[key]) > RTOL * max(1.0, np.abs(expected[key]).max())))
            return (f"{name}: {key} differs from a correct implementation's (relative error {error:.1e}, "
                    f"first at entry {where}). {hint}")
    return ""


@functools.lru_cache(maxsize=4)
def _reference_replay(normalization, seed):
    experiment = course.support_module("experiment")
    return experiment.replay(experiment.NormFunctions.collect(reference, REPLAY_BACKWARD), normalization,
                             seed=seed)


def _checked(student, name, returns):
    """The student's function as the training loop calls it, with what it returns validated.

    Inputs:
    - returns: "forward" ((out, cache), out shaped like x) or "backward" ((dx, dgamma, dbeta))
    """
    function = student.function(name, keep=(1,) if returns == "forward" else ())

    def call(*args):
        result = function(*args)
        labels = ("out", "cache") if returns == "forward" else ("dx", "dgamma", "dbeta")
        if not isinstance(result, tuple) or len(result) != len(labels):
            raise StudentError(f"{name} must return a tuple ({', '.join(labels)})")
        shapes = [args[0].shape] if returns == "forward" else [args[0].shape, args[0].shape[1:], args[0].shape[1:]]
        arrays = []
        for label, value, shape in zip(labels, result, shapes):
            # as the notebook's net uses them: any float array holding the right number of values
            if not isinstance(value, np.ndarray) or value.dtype.kind != "f" or value.size != math.prod(shape):
                raise StudentError(f"{name} returned {label} that is not a float array of shape {shape}")
            arrays.append(value.astype(np.float64).reshape(shape))
        return tuple(arrays) + tuple(result[len(arrays):])
    return call


def _student_replay(student, normalization, seed):
    """The grader's own copy of the experiment's replay, calling the student's four functions."""
    experiment = course.support_module("experiment")
    functions = experiment.NormFunctions(
        batchnorm_forward=_checked(student, "batchnorm_forward", "forward"),
        batchnorm_backward=_checked(student, REPLAY_BACKWARD, "backward"),
        layernorm_forward=_checked(student, "layernorm_forward", "forward"),
        layernorm_backward=_checked(student, "layernorm_backward", "backward"))
    with np.errstate(all="ignore"):
        return experiment.replay(functions, normalization, seed=seed)


def check_batchsize_training(student, rng, verdict):
    """Replay a short training run with the student's functions against the reference.

    The training loop is the grader's own copy of the experiment (the notebook's `experiment`
    module plays no part), seeded per submission; only the four normalization functions run
    in the student's kernel.
    """
    seed = int(rng.integers(2**62))
    runs = (
        ("batch norm", "batchnorm", 2.0, 1.5,
         "The training run uses your batchnorm_forward (train mode) and batchnorm_backward_alt.",
         "Validation runs in test mode: it uses the running averages your batchnorm_forward keeps "
         "in bn_param."),
        ("layer norm", "layernorm", 1.5, 1.0,
         "The training run uses your layernorm_forward and layernorm_backward.",
         "Validation uses your layernorm_forward on each example."),
    )
    numerical = set(student.facts.get("numerical", ()))
    for name, normalization, w_train, w_eval, train_hint, eval_hint in runs:
        backward = REPLAY_BACKWARD if normalization == "batchnorm" else "layernorm_backward"
        if backward in numerical:
            problem = (f"{name}: the training run uses your {backward}, which differentiates numerically "
                       "(see that part): no points for it here either.")
            verdict.checks += [Check(f"{name} inside a training run: the losses of every update", w_train, False,
                                     problem),
                               Check(f"{name} after training: test-mode validation and training accuracy", w_eval,
                                     False, problem)]
            continue
        expected = _reference_replay(normalization, seed)
        try:
            got = _student_replay(student, normalization, seed)
        except GradingAborted:
            raise
        except Exception as error:
            detail = str(error) if isinstance(error, StudentError) else text.exception(error)
            training = evaluation = f"{name}: the training run failed: {detail}. {train_hint}"
        else:
            updates = len(expected["loss"])
            training = _replay_problem(f"{name}, {updates} updates", got, expected, ("loss",), train_hint)
            evaluation = _replay_problem(f"{name}, test-mode evaluation", got, expected,
                                         ("val_loss", "val_acc", "train_acc"), eval_hint)
            if training:  # a network trained differently is evaluated differently (however slightly)
                evaluation = (f"{name}, test-mode evaluation: not comparable, because the training run "
                              "above differs already (fix that first). " + eval_hint)
        verdict.checks += [
            Check(f"{name} inside a training run: the losses of every update", w_train, not training, training),
            Check(f"{name} after training: test-mode validation and training accuracy", w_eval,
                  not evaluation, evaluation),
        ]
