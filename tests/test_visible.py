"""The visible checks speak the grader's words (issue 11): for every known mistake, the check a
student runs in the notebook names the same cause as the hidden verdict, from a table of
precomputed results (visible_checks.npz) that ships no reference code."""
import importlib.util
import re

import numpy as np
import pytest

from autograder import corpus, course, visible

ASSIGNMENT = course.assignment()
FUNCTIONS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward",
             "layernorm_backward")
CAUSE = re.compile(r"It matches (.+?)(?:\.|\?)(?:\n|$| )")
NOT_STORED = re.compile(r'has no "(running_\w+)" after the call')


def causes(text):
    """The causes a message names: the known mistakes it matches, running averages not stored."""
    return set(CAUSE.findall(text)) | {f"{key} not stored" for key in NOT_STORED.findall(text)}


def checking():
    spec = importlib.util.spec_from_file_location("checking_under_test", ASSIGNMENT.source_dir / "checking.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def namespace_of(entry):
    namespace = {"np": np}
    for cell in corpus.notebook(entry).cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            exec(compile(cell.source, f"<{entry.name}>", "exec"), namespace)
    return namespace


def visible_failure(module, namespace, part, monkeypatch):
    """The message of the first visible check of part that fails ('' when all pass)."""
    monkeypatch.chdir(ASSIGNMENT.source_dir)
    try:
        module.CHECKS[part](namespace, part)
    except AssertionError as error:
        return str(error)
    except Exception as error:  # a crash in the student's code is what the student sees too
        return f"{type(error).__name__}: {error}"
    return ""


def test_the_table_is_up_to_date_and_holds_no_code():
    assert visible.is_current(), "run `python -m autograder.authoring sync` and `make release`"
    with np.load(visible.table_path()) as table:
        assert all(table[key].dtype.kind in "fU" for key in table.files)


def test_the_visible_checks_pass_on_the_reference():
    module = checking()
    namespace = namespace_of(corpus.Entry(name="perfect", kind="examples", description=""))
    for part in FUNCTIONS:
        module.CHECKS[part](namespace, part)


@pytest.mark.parametrize("entry", corpus.load("wrong"), ids=lambda e: e.name)
def test_every_known_mistake_gets_the_same_cause_from_the_visible_check_and_the_hidden_test(entry, monkeypatch):
    module, namespace = checking(), namespace_of(entry)
    verdicts = corpus.grade_locally(entry)
    for part in FUNCTIONS:
        if entry.expectation(part) != "loses":
            continue
        message = visible_failure(module, namespace, part, monkeypatch)
        report = verdicts[part].report()
        hidden, shown = causes(report), causes(message)
        if verdicts[part].score < verdicts[part].points and not report.count("[FAIL]") == report.count("shapes"):
            assert message, f"{entry.name}: the visible checks of {part} pass although the hidden tests fail:\n{report}"
        assert shown <= hidden, f"{entry.name}/{part}: visible says {shown}, hidden says {hidden}\n{message}\n{report}"
        if hidden:
            assert shown, f"{entry.name}/{part}: the hidden verdict names {hidden}; the visible check only says:\n{message}"
