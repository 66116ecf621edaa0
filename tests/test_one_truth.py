"""One set of numbers everywhere (issue 11): results.json, the feedback page, grades.csv, the
terminal summary and what formgrader reads agree, manual grades included, whatever the order of
`make grade`, grading by hand, `make feedback` and nbgrader's own generate_feedback."""
import json
import re
import sys

import pytest
from nbgrader.api import Gradebook

from autograder import corpus, course
from autograder.corpus import hostile

ASSIGNMENT = course.assignment()
NOTEBOOK = ASSIGNMENT.notebooks[0]
MANUAL = ASSIGNMENT.manual_parts  # ("preprocessing_justification", "batchsize_explanation")
PARTLY_RIGHT = corpus.load("examples", ["partly_right"])[0]


def surfaces(course_copy, student, stdout=""):
    """Every place a person reads the student's scores: {surface: {part: score or None}, ...} and
    the totals each shows."""
    root = course_copy.root
    results = json.loads((root / "autograded" / student / ASSIGNMENT.id / "results.json").read_text())
    feedback_json = json.loads((root / "feedback" / student / ASSIGNMENT.id / "results.json").read_text())
    html = (root / "feedback" / student / ASSIGNMENT.id / f"{NOTEBOOK}.html").read_text()
    row = course_copy.grades()[student]
    shown = {}
    for part in ASSIGNMENT.parts:
        cell = re.search(rf">{part}</a></td>\s*<td>[^<]*</td>\s*<td[^>]*>([^<]*)</td>", html)
        assert cell, f"the feedback page names no part {part}"
        text = cell.group(1).strip()
        shown[part] = None if text.startswith("not graded yet") else float(text.split("/")[0])
    return {
        "results.json": {t["name"]: t.get("score") for t in results["tests"]},
        "feedback results.json": {t["name"]: t.get("score") for t in feedback_json["tests"]},
        "feedback page": shown,
        "grades.csv": {part: (float(row[part]) if row[part] != "" else None) for part in ASSIGNMENT.parts},
    }, {"results.json": results["score"], "grades.csv": float(row["score"]),
        "feedback page": float(re.search(r"\(Score: ([0-9.]+) / ", html).group(1))}


def assert_one_truth(course_copy, student, expected_manual):
    found, totals = surfaces(course_copy, student)
    reference = found["grades.csv"]
    for surface, scores in found.items():
        assert scores == reference, f"{surface} disagrees with grades.csv: {scores} vs {reference}"
    for part, score in expected_manual.items():
        assert reference[part] == score, (part, reference[part], score)
    assert len(set(totals.values())) == 1, totals
    api_scores = course_copy.run(sys.executable, "-c", (
        "from autograder import course\n"
        f"print([s['score'] for s in course.nbgrader_api().get_submissions('{ASSIGNMENT.id}') "
        f"if s['student'] == '{student}'][0])\n")).stdout.split()[-1]
    assert float(api_scores) == totals["grades.csv"], "formgrader's API shows another total"
    feedback_files = sorted(p.name for p in (course_copy.root / "feedback" / student / ASSIGNMENT.id).iterdir())
    assert feedback_files == sorted([f"{NOTEBOOK}.html", "results.json"]), feedback_files


def grade_by_hand(course_copy, student, scores):
    """What formgrader does when a grader saves a score: set the manual score in the gradebook."""
    with Gradebook(course.gradebook_url().replace(str(course.ROOT), str(course_copy.root))) as gb:
        for part, score in scores.items():
            grade = gb.find_grade(part, NOTEBOOK, ASSIGNMENT.id, student)
            grade.manual_score = score
            grade.needs_manual_grade = False
        gb.db.commit()


@pytest.fixture(scope="module")
def graded(module_course):
    corpus.write_submission(hostile.PERFECT, module_course.submitted, student="ann")
    corpus.write_submission(PARTLY_RIGHT, module_course.submitted, student="bob")
    result = module_course.grade(workers=2)
    return module_course, result


def test_before_grading_by_hand_written_parts_are_not_graded_yet_everywhere(graded):
    course_copy, result = graded
    assert_one_truth(course_copy, "ann", {part: None for part in MANUAL})
    row = course_copy.grades()["ann"]
    assert [row[part] for part in MANUAL] == ["", ""]
    line = next(line for line in result.stdout.splitlines() if line.startswith("ann "))
    assert line.split()[1 + ASSIGNMENT.parts.index(MANUAL[0])] == "."


def test_the_grading_command_writes_the_page_nbgrader_generate_feedback_writes(graded):
    """make grade renders feedback with its own long-lived exporter: the page must be byte for
    byte what nbgrader's own generate_feedback makes of the same gradebook."""
    course_copy, _ = graded
    page = course_copy.root / "feedback" / "bob" / ASSIGNMENT.id / f"{NOTEBOOK}.html"
    ours = page.read_bytes()
    course_copy.run("nbgrader", "generate_feedback", ASSIGNMENT.id, "--student", "bob", "--force")
    assert page.read_bytes() == ours


def test_manual_grades_reach_every_surface_whatever_runs_after(graded):
    course_copy, _ = graded
    grade_by_hand(course_copy, "ann", {MANUAL[0]: 3.0, MANUAL[1]: 5.5})
    course_copy.run(sys.executable, "-m", "autograder.feedback", ASSIGNMENT.id)     # make feedback
    assert_one_truth(course_copy, "ann", {MANUAL[0]: 3.0, MANUAL[1]: 5.5})

    grade_by_hand(course_copy, "ann", {MANUAL[0]: 4.0})
    course_copy.run("nbgrader", "generate_feedback", ASSIGNMENT.id, "--force")      # nbgrader's own
    assert_one_truth(course_copy, "ann", {MANUAL[0]: 4.0, MANUAL[1]: 5.5})

    result = course_copy.grade("ann", workers=1)                                     # grading again
    assert_one_truth(course_copy, "ann", {MANUAL[0]: 4.0, MANUAL[1]: 5.5})
    line = next(line for line in result.stdout.splitlines() if line.startswith("ann "))
    assert line.split()[1 + ASSIGNMENT.parts.index(MANUAL[0])] == "4"
    assert_one_truth(course_copy, "bob", {part: None for part in MANUAL})


def test_feedback_reads_like_a_report(graded):
    course_copy, _ = graded
    html = (course_copy.root / "feedback" / "bob" / ASSIGNMENT.id / f"{NOTEBOOK}.html").read_text()
    for part in ASSIGNMENT.parts:
        assert f">{part}</a>" in html
    assert "white-space: pre-wrap" in html
    for internal in ("normlab-jobs", "/autograder/", "site-packages", "grade_part(", "Out[", "For graders only"):
        assert internal not in html, internal
    graded_notebook = (course_copy.root / "autograded" / "bob" / ASSIGNMENT.id / f"{NOTEBOOK}.ipynb").read_text()
    assert "For graders only: model answer and mark scheme" in graded_notebook  # what formgrader shows
