"""Hostile and broken submissions, graded through the real grading command beside honest
students (autograder/corpus/hostile.py lists the cases and what each must get)."""
import sqlite3

import pytest

from autograder import corpus, course
from autograder.corpus import hostile

ASSIGNMENT = course.assignment()
CELL_TIMEOUT = 5  # seconds; short, so that the cases that loop forever cost little time
CONTROLS = {"control_perfect": hostile.PERFECT, "control_partly_right": corpus.load("examples", ["partly_right"])[0]}


@pytest.fixture(scope="module")
def graded(module_course):
    manifest = module_course.root / "assignments" / f"{ASSIGNMENT.id}.toml"
    manifest.write_text(manifest.read_text().replace(f"cell_timeout = {ASSIGNMENT.cell_timeout}",
                                                     f"cell_timeout = {CELL_TIMEOUT}"))
    for name, entry in CONTROLS.items():
        corpus.write_submission(entry, module_course.submitted, student=name)
    for case in hostile.CASES:
        case.build(module_course.submitted / case.name / ASSIGNMENT.id, module_course.root)
    result = module_course.grade(workers=2)
    return module_course, result


def test_every_submission_was_graded_and_honest_students_kept_their_marks(graded):
    course_copy, _ = graded
    rows = course_copy.grades()
    assert set(rows) == {c.name for c in hostile.CASES} | set(CONTROLS)
    assert course_copy.part_scores("control_perfect") == {p: ASSIGNMENT.points[p] for p in ASSIGNMENT.auto_parts}
    assert rows["control_perfect"]["status"] == "graded"
    partly = course_copy.part_scores("control_partly_right")
    expected = {p: v.score for p, v in corpus.grade_locally(CONTROLS["control_partly_right"]).items()}
    for part in ASSIGNMENT.auto_parts:
        assert (partly[part] == ASSIGNMENT.points[part]) == (expected[part] == ASSIGNMENT.points[part]), part


def test_the_gradebook_is_intact(graded):
    course_copy, _ = graded
    database = sqlite3.connect(course_copy.root / "gradebook.db")
    assert database.execute("pragma integrity_check").fetchone()[0] == "ok"
    over = database.execute("select count(*) from grade join grade_cells on grade.cell_id = grade_cells.id "
                            "where grade.auto_score > grade_cells.max_score "
                            "or grade.manual_score is not null").fetchone()[0]
    assert over == 0, "a score above its cell's points, or a manual score nobody gave"
    per_student = dict(database.execute(
        "select student.id, count(grade.id) from grade join submitted_notebook on grade.notebook_id = "
        "submitted_notebook.id join submitted_assignment on submitted_notebook.assignment_id = "
        "submitted_assignment.id join student on submitted_assignment.student_id = student.id "
        "group by student.id").fetchall())
    graded_cells = len(ASSIGNMENT.auto_parts) + len(ASSIGNMENT.manual_parts)
    assert set(per_student.values()) == {graded_cells}
    assert len(per_student) == len(hostile.CASES) + len(CONTROLS)


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda c: c.name)
def test_each_hostile_case_gets_exactly_what_it_earned_and_a_clear_status(graded, case):
    course_copy, _ = graded
    row = course_copy.grades()[case.name]
    assert row["status"].startswith(case.status), f"{case.name}: status {row['status']!r}"
    results = course_copy.results(case.name)
    scores = {t["name"]: t["score"] for t in results["tests"]}
    for part in ASSIGNMENT.auto_parts:
        expected = case.expectation(part)
        if expected == "full":
            assert scores[part] == ASSIGNMENT.points[part], f"{case.name} lost points in {part}: {scores}"
        elif expected == "zero":
            assert scores[part] == 0, f"{case.name} earned points in {part}: {scores}"
        assert float(row[part]) == scores[part]
    assert bool(results["extra_data"]["flags"]) == case.flagged, results["extra_data"]["flags"]
    if row["status"].startswith(("failed", "flagged", "repaired")):
        assert len(row["status"].split(":", 1)[1].strip()) > 10, "a status needs a reason"
