"""Hidden checks of the answers: the preprocessing analogy and the batch-size conclusions."""
import numpy as np

from autograder import text
from autograder.checks.verdicts import Check, GradingAborted, StudentError


ANALOGY = {"bn_analogy": 3, "ln_analogy": 2}


def _option(student, name):
    try:
        value = student.value(name)
    except (StudentError, GradingAborted):
        raise
    except Exception as error:
        return None, f"{name} is not set ({text.one_line(error, 200)})."
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 4:
        return None, f"{name} must be one of the option numbers 1, 2, 3, 4; it is {text.short_repr(value)}."
    return int(value), ""


def check_preprocessing_analogy(student, rng, verdict):
    bn, bn_problem = _option(student, "bn_analogy")
    ln, ln_problem = _option(student, "ln_analogy")
    hints = {
        ("bn_analogy", 2): "Option 2 uses the pixels of one image only; batch norm's statistics come "
                           "from many examples.",
        ("ln_analogy", 3): "Option 3 uses statistics over the whole data set (many examples); that is "
                           "batch norm's idea, not layer norm's.",
        ("ln_analogy", 1): "Option 1 normalises each row of pixels separately: a group of features, "
                           "which is group norm's idea. Layer norm uses all features of one example.",
        ("bn_analogy", 4): "Option 4 is a fixed threshold: no statistics at all.",
        ("ln_analogy", 4): "Option 4 is a fixed threshold: no statistics at all.",
        ("bn_analogy", 1): "Option 1 uses one image only; batch norm's statistics come from many examples.",
    }
    for name, value, problem in (("bn_analogy", bn, bn_problem), ("ln_analogy", ln, ln_problem)):
        if problem:
            message = problem
        elif value == ANALOGY[name]:
            message = ""
        else:
            message = hints.get((name, value), f"{name} = {value} is not the closest analogy.")
        verdict.checks.append(Check(f"{name}: the option most analogous to "
                                    f"{'batch' if name == 'bn_analogy' else 'layer'} normalization",
                                    1.0, not message, message))


# ---------------------------------------------------------------------------------------


def _answer_check(grade_id):
    """The check of one autograded conclusion of the experiment."""

    def check(student, rng, verdict):
        from autograder import batchsize

        try:
            value = student.value(grade_id)
        except (StudentError, GradingAborted):
            raise
        except Exception as error:
            problem = f"{grade_id} is not set ({error})."
        else:
            problem = batchsize.answer_problem(grade_id, value)
        question = batchsize.QUESTIONS[grade_id]
        verdict.checks.append(Check(question.text, 1.0, problem is None, problem or ""))

    return check
