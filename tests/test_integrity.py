"""Points only for the work (issue 10), through real grading: inputs seen by one submission say
nothing about the next, the replay is the grader's own, and patching the experiment earns nothing."""
import json

import nbformat
import numpy as np
import pytest

from autograder import corpus, course, reference
from autograder.corpus import hostile

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"

# Wraps batchnorm_forward: every x the grader's bridge passes in is recorded (hash and values).
SPY = '''import hashlib, sys, json
SPIED = []
_spied_forward = batchnorm_forward
def batchnorm_forward(x, gamma, beta, bn_param):
    frame, by_grader = sys._getframe(1), False
    while frame is not None:
        by_grader = by_grader or frame.f_code.co_filename.endswith("hidden.py")
        frame = frame.f_back
    if by_grader and x.size <= 400:
        SPIED.append({"hash": hashlib.sha256(x.tobytes()).hexdigest(), "x": x.tolist(), "gamma": gamma.tolist(),
                      "beta": beta.tolist(), "param": {k: (v.tolist() if hasattr(v, "tolist") else v)
                                                       for k, v in bn_param.items()}})
    return _spied_forward(x, gamma, beta, bn_param)
'''
REPORT = 'print("SPIED", json.dumps(SPIED))\n'
# Answers looked up by a hash of the input, computed offline: TABLE is filled in by the test.
LOOKUP = '''import hashlib
import numpy as np
TABLE = {}
def batchnorm_forward(x, gamma, beta, bn_param):
    found = TABLE.get(hashlib.sha256(x.tobytes()).hexdigest())
    if found is None:
        return None, None
    out, running_mean, running_var = (np.array(v) for v in found)
    bn_param["running_mean"], bn_param["running_var"] = running_mean, running_var
    return out, None
'''
PATCHES_EXPERIMENT = '''import experiment
experiment.replay = lambda *args, **kwargs: {"loss": np.zeros(60)}
experiment.train = lambda *args, **kwargs: None
'''


# numerical differentiation element-wise through the notebook's forward (the forward-call watch),
# row-wise through a private copy of it (the large batch's CPU time, measured in the sandboxed
# kernel) and along dout, the complex step, and an honest control with Python loops over features
NUMERICAL = {"fwd": ("cheats", "fd_forward_elementwise"), "prow": ("cheats", "private_forward_rowwise"),
             "dirc": ("cheats", "directional_central"), "cplx": ("cheats", "complex_step"),
             "loops": ("valid", "loop_over_features")}
# closed forms that run the graph version: bound to it, and reaching it through a name of their own
DELEGATES = {"alias": ("cheats", "alt_alias"), "chain": ("cheats", "alt_chains_through_alias")}
BACKWARD_PARTS = ("batchnorm_backward", "batchnorm_backward_alt", "layernorm_backward", "batchsize_training")


def _notebook(extra_after_answer, table=None):
    notebook = corpus.notebook(hostile.PERFECT)
    index = next(i for i, c in enumerate(notebook.cells) if c.metadata.get("nbgrader", {}).get("grade_id")
                 == "batchnorm_forward")
    source = extra_after_answer if table is None else extra_after_answer.replace("TABLE = {}", f"TABLE = {table!r}")
    notebook.cells.insert(index + 1, nbformat.v4.new_code_cell(source))
    return notebook


def _submit(course_copy, student, notebook):
    folder = course_copy.submitted / student / ASSIGNMENT.id
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(folder / NOTEBOOK))


def _spied(course_copy, student):
    graded = nbformat.read(str(course_copy.root / "autograded" / student / ASSIGNMENT.id / NOTEBOOK), as_version=4)
    printed = "".join(o.get("text", "") for c in graded.cells for o in c.get("outputs", []))
    return json.loads(printed.split("SPIED", 1)[1].splitlines()[0])


def _answers(spied):
    """What a lookup table would hold: reference outputs for every recorded input."""
    table = {}
    for call in spied:
        param = {k: (np.array(v) if isinstance(v, list) else v) for k, v in call["param"].items()}
        out, _ = reference.batchnorm_forward(np.array(call["x"]), np.array(call["gamma"]),
                                             np.array(call["beta"]), param)
        table[call["hash"]] = (out.tolist(), param["running_mean"].tolist(), param["running_var"].tolist())
    return table


@pytest.fixture(scope="module")
def rounds(module_course):
    spy = _notebook(SPY)
    spy.cells.append(nbformat.v4.new_code_cell(REPORT))
    _submit(module_course, "eve", spy)
    module_course.grade("eve", workers=1)
    first = _spied(module_course, "eve")
    first_grades = (module_course.root / "grades.csv").read_bytes()
    module_course.grade("eve", workers=1)
    again = _spied(module_course, "eve")
    again_grades = (module_course.root / "grades.csv").read_bytes()

    lookup = _notebook(LOOKUP, table=_answers(first))
    lookup.cells.insert(next(i for i, c in enumerate(lookup.cells) if "TABLE = " in c.source) + 1,
                        nbformat.v4.new_code_cell(SPY))
    lookup.cells.append(nbformat.v4.new_code_cell(REPORT))
    _submit(module_course, "eve", lookup)
    patched = corpus.notebook(hostile.BLANK)
    patched.cells.insert(2, nbformat.v4.new_code_cell("import numpy as np\n" + PATCHES_EXPERIMENT))
    _submit(module_course, "pat", patched)
    for student, (kind, name) in {**NUMERICAL, **DELEGATES}.items():
        corpus.write_submission(corpus.load(kind, [name])[0], module_course.submitted, student=student)
    module_course.grade(workers=2)
    return {"course": module_course, "first": first, "again": again, "second": _spied(module_course, "eve"),
            "grades": (first_grades, again_grades)}


def test_the_same_notebook_graded_again_sees_the_same_inputs_and_gets_identical_grades(rounds):
    assert rounds["first"] and [c["hash"] for c in rounds["first"]] == [c["hash"] for c in rounds["again"]]
    assert rounds["grades"][0] == rounds["grades"][1]


def test_a_lookup_table_of_a_spied_submission_earns_nothing_in_the_next(rounds):
    """Round 1 recorded every input the hidden tests sent; round 2 answers from a table of them,
    computed offline with correct code: the inputs changed with the notebook, so it earns 0."""
    first, second = {c["hash"] for c in rounds["first"]}, {c["hash"] for c in rounds["second"]}
    assert second and not first & second
    assert rounds["course"].part_scores("eve")["batchnorm_forward"] == 0


def test_patching_the_experiment_module_earns_nothing_and_is_flagged(rounds):
    course_copy = rounds["course"]
    assert course_copy.part_scores("pat")["batchsize_training"] == 0
    status = course_copy.grades()["pat"]["status"]
    assert status.startswith("flagged") and "experiment.replay" in status


@pytest.mark.parametrize("student", [s for s, (kind, _) in NUMERICAL.items() if kind == "cheats"])
def test_a_numerical_backward_pass_earns_no_backward_points_through_real_grading(rounds, student):
    course_copy = rounds["course"]
    scores = course_copy.part_scores(student)
    assert {part: scores[part] for part in BACKWARD_PARTS} == {part: 0 for part in BACKWARD_PARTS}
    assert scores["batchnorm_forward"] == ASSIGNMENT.points["batchnorm_forward"]
    outputs = {t["name"]: t["output"] for t in course_copy.results(student)["tests"]}
    assert "numerical" in outputs["batchnorm_backward"], outputs["batchnorm_backward"]


def test_the_complex_step_is_flagged(rounds):
    status = rounds["course"].grades()["cplx"]["status"]
    assert status.startswith("flagged") and "complex" in status, status


def test_honest_loops_keep_full_marks_beside_the_numerical_ones(rounds):
    course_copy = rounds["course"]
    assert course_copy.grades()["loops"]["status"] == "graded"
    assert float(course_copy.grades()["loops"]["raw_score"]) == sum(ASSIGNMENT.points[p] for p in ASSIGNMENT.auto_parts)


@pytest.mark.parametrize("student", sorted(DELEGATES))
def test_a_closed_form_that_runs_the_graph_version_earns_nothing_and_is_flagged(rounds, student):
    course_copy = rounds["course"]
    scores = course_copy.part_scores(student)
    assert scores["batchnorm_backward_alt"] == 0
    assert scores["batchnorm_backward"] == ASSIGNMENT.points["batchnorm_backward"]
    status = course_copy.grades()[student]["status"]
    assert status.startswith("flagged") and "calls batchnorm_backward" in status, status
