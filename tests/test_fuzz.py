"""Damaged notebooks through real grading (issue 13): seeded structural mutations of the perfect
submission and of the blank release, graded by `python -m autograder.grade` beside the two
unmodified bases. No structural damage costs a mark, nothing earns marks it did not, every
submission gets a row, and no grader traceback reaches a student's files."""
import json

import nbformat
import pytest

from autograder import corpus, course
from autograder.corpus import fuzz, hostile

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"
PERFECT_COUNT, BLANK_COUNT = 80, 20  # 100 mutated notebooks
SEED = 20261130


def _bases():
    perfect = nbformat.writes(corpus.notebook(hostile.PERFECT)).encode()
    blank = (ASSIGNMENT.release_dir / NOTEBOOK).read_bytes()
    return perfect, blank


def _mutations():
    perfect, blank = _bases()
    cases = {"base-perfect": (perfect, True, "perfect"), "base-blank": (blank, True, "blank")}
    for base, name, count in ((perfect, "perfect", PERFECT_COUNT), (blank, "blank", BLANK_COUNT)):
        for index, mutation in enumerate(fuzz.mutations(SEED + len(name), base, count)):
            cases[f"{name}-{index:03d}"] = (mutation.data, mutation.structural, name)
    return cases


@pytest.fixture(scope="module")
def fuzzed(module_course):
    cases = _mutations()
    for student, (data, _, _) in cases.items():
        folder = module_course.submitted / student / ASSIGNMENT.id
        folder.mkdir(parents=True)
        (folder / NOTEBOOK).write_bytes(data)
    module_course.grade(workers=2)
    return module_course, cases


def test_every_fuzzed_submission_has_a_row_and_scores_in_range(fuzzed):
    course_copy, cases = fuzzed
    rows = course_copy.grades()
    assert set(rows) == set(cases)
    for student, row in rows.items():
        assert 0 <= float(row["raw_score"]) <= ASSIGNMENT.max_score, student
        for part in ASSIGNMENT.auto_parts:
            assert 0 <= float(row[part]) <= ASSIGNMENT.points[part], (student, part)


def test_structural_damage_of_the_perfect_submission_keeps_full_marks(fuzzed):
    course_copy, cases = fuzzed
    full = {part: ASSIGNMENT.points[part] for part in ASSIGNMENT.auto_parts}
    structural = [s for s, (_, is_structural, base) in cases.items() if is_structural and base == "perfect"]
    assert len(structural) > PERFECT_COUNT // 2
    for student in structural:
        assert course_copy.part_scores(student) == full, (student, course_copy.grades()[student]["status"])


def test_nothing_built_on_the_blank_release_earns_marks(fuzzed):
    course_copy, cases = fuzzed
    for student, (_, _, base) in cases.items():
        if base == "blank":
            assert float(course_copy.grades()[student]["raw_score"]) == 0, student


def test_no_grader_traceback_reaches_a_student_file(fuzzed):
    course_copy, cases = fuzzed
    for path in (course_copy.root / "feedback").rglob("*"):
        if path.is_file():
            content = path.read_text(errors="replace")
            for marker in ("autograder/", "normlab-jobs", "site-packages", "nbgrader.converters"):
                assert marker not in content, (path, marker)
    for student in cases:
        results = course_copy.results(student)
        assert "Traceback" not in json.dumps(results), student
        status = results["extra_data"]["status"]
        assert "internal grader error" not in status, (student, status)
