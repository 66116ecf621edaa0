"""The corpus graded for real: `python -m autograder.grade` (nbgrader autograde, sandboxed
kernel, hidden checks outside it) on every corpus submission, once per test session."""
import shutil

import pytest

from autograder import corpus, course

ASSIGNMENT = course.assignment()
ENTRIES = corpus.load("wrong") + corpus.load("valid") + corpus.load("examples")


def student_of(entry):
    return f"{entry.kind}-{entry.name}"


@pytest.fixture(scope="module")
def graded(module_course):
    for entry in ENTRIES:
        corpus.write_submission(entry, module_course.submitted, student=student_of(entry))
    solution = module_course.submitted / "instructor-solution" / ASSIGNMENT.id
    solution.mkdir(parents=True)
    shutil.copy(ASSIGNMENT.source_dir / f"{ASSIGNMENT.notebooks[0]}.ipynb", solution)
    module_course.grade(workers=2)
    return module_course


def test_the_source_notebook_submitted_as_is_gets_full_marks(graded):
    scores = graded.part_scores("instructor-solution")
    assert scores == {part: ASSIGNMENT.points[part] for part in ASSIGNMENT.auto_parts}
    # its metadata is the source's, not the release's: it is graded as rebuilt from the release
    assert graded.grades()["instructor-solution"]["status"].startswith(("graded", "repaired"))


def test_the_unchanged_release_gets_zero_on_every_autograded_part(graded):
    scores = graded.part_scores("examples-blank")
    assert set(scores) == set(ASSIGNMENT.auto_parts)
    assert all(score == 0 for score in scores.values()), scores


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "wrong"], ids=lambda e: e.name)
def test_every_known_mistake_loses_points_in_its_part_and_only_there(graded, entry):
    scores = graded.part_scores(student_of(entry))
    for part in ASSIGNMENT.auto_parts:
        if entry.expectation(part) == "loses":
            assert scores[part] < ASSIGNMENT.points[part], f"{entry.name} keeps full marks in {part}"
        else:
            assert scores[part] == ASSIGNMENT.points[part], f"{entry.name} loses points in {part}"


@pytest.mark.parametrize("entry", [e for e in ENTRIES if e.kind == "valid"], ids=lambda e: e.name)
def test_every_valid_alternative_keeps_full_marks(graded, entry):
    scores = graded.part_scores(student_of(entry))
    assert scores == {part: ASSIGNMENT.points[part] for part in ASSIGNMENT.auto_parts}
    assert graded.grades()[student_of(entry)]["status"] == "graded"


def test_real_grading_agrees_with_local_grading_of_the_same_code(graded):
    """The sandboxed kernel and the in-process path give the same verdicts (same seed)."""
    for entry in [e for e in ENTRIES if e.kind == "examples"]:
        student = student_of(entry)
        local = {p: v.score for p, v in corpus.grade_locally(entry).items()}
        real = graded.part_scores(student)
        for part in ASSIGNMENT.auto_parts:
            # different seeds (per student in real grading), same pass/fail pattern
            assert (local[part] == ASSIGNMENT.points[part]) == (real[part] == ASSIGNMENT.points[part]), \
                (entry.name, part, local[part], real[part])


def test_grades_csv_has_nbgraders_columns_then_one_per_part_then_status(graded):
    import csv

    with open(graded.root / "grades.csv", newline="") as handle:
        header = next(csv.reader(handle))
    from autograder.export import NBGRADER_COLUMNS

    assert header == NBGRADER_COLUMNS + ASSIGNMENT.parts + ["status"]


def test_grades_csv_and_results_json_agree_part_by_part(graded):
    rows = graded.grades()
    assert len(rows) == len(ENTRIES) + 1
    for student, row in rows.items():
        results = graded.results(student)
        assert results["extra_data"]["student_id"] == student
        assert results["extra_data"]["status"] == row["status"]
        for test in results["tests"]:
            assert set(test) >= {"name", "max_score", "output"}
            assert (float(row[test["name"]]) if row[test["name"]] != "" else None) == test.get("score")
            assert test["max_score"] == ASSIGNMENT.points[test["name"]]
        auto = sum(float(row[p]) for p in ASSIGNMENT.auto_parts)
        assert abs(results["score"] - auto) < 1e-9
        manual = sum(float(row[p] or 0) for p in ASSIGNMENT.manual_parts)
        assert abs(float(row["raw_score"]) - (auto + manual)) < 1e-6


def test_grades_csv_totals_equal_nbgraders_own_export(graded):
    import csv
    import sys
    from pathlib import Path

    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    graded.run(nbgrader, "export", "--to", "nbgrader_export.csv")
    with open(graded.root / "nbgrader_export.csv", newline="") as handle:
        theirs = {row["student_id"]: row for row in csv.DictReader(handle)}
    ours = graded.grades()
    assert set(theirs) == set(ours)
    from autograder.export import NBGRADER_COLUMNS

    for student, row in theirs.items():
        assert {k: row[k] for k in NBGRADER_COLUMNS} == {k: ours[student][k] for k in NBGRADER_COLUMNS}


def test_feedback_shows_scores_and_messages_but_no_hidden_tests_or_mark_scheme(graded):
    for student in ("examples-partly_right", "examples-blank", "wrong-bn_unbiased_variance"):
        html = (graded.root / "feedback" / student / ASSIGNMENT.id / f"{ASSIGNMENT.notebooks[0]}.html").read_text()
        for secret in ("grade_part", "BEGIN HIDDEN TESTS", "autograder", "Mark scheme", "Model answer",
                       "BEGIN SOLUTION"):
            assert secret not in html, f"{secret!r} in the feedback of {student}"
        assert "The check of batchnorm_forward" in html  # test cells show their visible part
        assert "points" in html
    partly = (graded.root / "feedback" / "examples-partly_right" / ASSIGNMENT.id
              / f"{ASSIGNMENT.notebooks[0]}.html").read_text()
    assert "wrong axis" in partly  # the diagnosis of its layer norm reaches the student


def test_the_replay_catches_stale_running_averages_and_layer_norm_over_the_batch(graded):
    """The experiment's points need the functions to work inside training: batch norm that never
    stores its running averages, and layer norm that normalises over the batch, lose them."""
    assert graded.part_scores("examples-perfect")["batchsize_training"] == ASSIGNMENT.points["batchsize_training"]
    for student in ("wrong-bn_running_stats_not_stored", "wrong-ln_normalises_columns"):
        results = graded.results(student)
        replay = next(t for t in results["tests"] if t["name"] == "batchsize_training")
        assert replay["score"] < ASSIGNMENT.points["batchsize_training"], student
        assert "differs from a correct implementation" in replay["output"]
