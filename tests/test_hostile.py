"""Hostile and broken submissions, graded through the real grading command beside honest
students (autograder/corpus/hostile.py lists the cases and what each must get)."""
import json
import sqlite3
import unicodedata
from pathlib import Path

import pytest

from autograder import corpus, course
from autograder.corpus import hostile

ASSIGNMENT = course.assignment()
CELL_TIMEOUT = 20  # seconds; short, so that the cases that loop forever cost little time
CONTROLS = {"control_perfect": hostile.PERFECT, "control_partly_right": corpus.load("examples", ["partly_right"])[0]}


SUBMISSION_TIMEOUT = 60  # seconds; short, so that the case that sleeps past it costs little time
MARKERS = Path("/tmp")


def _markers():
    return sorted(MARKERS.glob("normlab-planted-*"))


@pytest.fixture(scope="module")
def graded(module_course):
    manifest = module_course.root / "assignments" / f"{ASSIGNMENT.id}.toml"
    manifest.write_text(manifest.read_text()
                        .replace(f"cell_timeout = {ASSIGNMENT.cell_timeout}", f"cell_timeout = {CELL_TIMEOUT}")
                        .replace(f"submission_timeout = {ASSIGNMENT.submission_timeout}",
                                 f"submission_timeout = {SUBMISSION_TIMEOUT}"))
    for marker in _markers():
        marker.unlink()
    for name, entry in CONTROLS.items():
        corpus.write_submission(entry, module_course.submitted, student=name)
    for case in hostile.CASES:
        case.build(module_course.submitted / case.student / ASSIGNMENT.id, module_course.root)
    result = module_course.grade(workers=2)
    return module_course, result


def _row(course_copy, case):
    rows = course_copy.grades()
    return rows[repr(case.student) if case.refused else case.student]


def test_every_submission_was_graded_and_honest_students_kept_their_marks(graded):
    course_copy, _ = graded
    rows = course_copy.grades()
    assert set(rows) == {repr(c.student) if c.refused else c.student for c in hostile.CASES} | set(CONTROLS)
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
    assert len(per_student) == len([c for c in hostile.CASES if not c.refused]) + len(CONTROLS)


@pytest.mark.parametrize("case", hostile.CASES, ids=lambda c: c.name)
def test_each_hostile_case_gets_exactly_what_it_earned_and_a_clear_status(graded, case):
    course_copy, _ = graded
    row = _row(course_copy, case)
    assert row["status"].startswith(case.status), f"{case.name}: status {row['status']!r}"
    if case.refused:
        assert not (course_copy.root / "autograded" / case.student).exists()
        return
    results = course_copy.results(case.student)
    scores = course_copy.part_scores(case.student)
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


def test_nothing_handed_in_beside_the_notebook_was_imported_outside_the_sandbox(graded):
    assert _markers() == []


def test_student_code_cannot_fill_the_host_disk(graded):
    """Every folder the kernel can write is its own capped /tmp: the runtime folder (the only host
    folder bound writable) is locked once the kernel has made its sockets."""
    course_copy, _ = graded
    notebook = json.loads((course_copy.root / "autograded" / "fills_the_disk" / ASSIGNMENT.id /
                           f"{ASSIGNMENT.notebooks[0]}.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    report = json.loads(printed.split("DISK-REPORT", 1)[1].splitlines()[0])
    assert report["runtime"] == 0 and report["cwd"] == 0
    assert report["matplotlib"] + report["tmp"] <= 128 * 2**20


def test_every_file_a_submission_produces_stays_small(graded):
    course_copy, _ = graded
    for folder in ("autograded", "feedback"):
        for path in (course_copy.root / folder).rglob("*"):
            if path.is_file():
                limit = 1_000_000 if path.name == "results.json" else 5_000_000
                assert path.stat().st_size < limit, (path, path.stat().st_size)


def _plain(value, where):
    if isinstance(value, dict):
        for key, item in value.items():
            _plain(item, f"{where}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _plain(item, f"{where}[{index}]")
    elif isinstance(value, str):
        bad = [c for c in value if c != "\n" and unicodedata.category(c) in ("Cc", "Cf", "Cs")]
        assert not bad, (where, value[:200])


def test_every_exported_field_is_plain_text(graded):
    course_copy, result = graded
    for line in result.stdout.splitlines():
        _plain(line, "terminal")
    with open(course_copy.root / "grades.csv", newline="") as handle:
        for row in __import__("csv").DictReader(handle):
            for key, value in row.items():
                _plain(value, f"grades.csv[{row['student_id']!r}].{key}")
                assert value[:1] not in ("=", "+", "@", "-") or value.startswith("'"), (key, value)
    for path in (course_copy.root / "autograded").rglob("results.json"):
        data = json.loads(path.read_text())
        _plain(data, str(path))
        for test in data["tests"]:
            assert "\x1b" not in test.get("output", "")


def test_formula_folder_names_are_graded_and_quoted_for_spreadsheets(graded):
    course_copy, _ = graded
    text = (course_copy.root / "grades.csv").read_text()
    assert "'=1+2" in text and "'@SUM(1+1)" in text
    assert course_copy.part_scores("=1+2") == {p: ASSIGNMENT.points[p] for p in ASSIGNMENT.auto_parts}


def test_no_job_folder_is_left_behind(graded):
    from autograder import job

    leftovers = [p for p in job.JOBS_ROOT.iterdir() if p.name.split("-")[0].isdigit() and not job._alive(int(p.name.split("-")[0]))] \
        if job.JOBS_ROOT.exists() else []
    assert leftovers == []


def test_the_kernel_never_sees_the_student_id_the_seeds_or_the_course_secret(graded):
    from autograder import seeds

    course_copy, _ = graded
    student = "snooper-7f3a9c"
    notebook = json.loads((course_copy.root / "autograded" / student / ASSIGNMENT.id /
                           f"{ASSIGNMENT.notebooks[0]}.ipynb").read_text())
    printed = "".join("".join(o.get("text", "")) for c in notebook["cells"] for o in c.get("outputs", []))
    seen = printed.split("SNOOP", 1)[1].splitlines()[0]
    assert '"cwd"' in seen and '"env"' in seen  # the snoop ran
    secret = (course_copy.root / ".secret" / "grading-key").read_text().strip()
    submitted = (course_copy.submitted / student / ASSIGNMENT.id / f"{ASSIGNMENT.notebooks[0]}.ipynb").read_bytes()
    digest = __import__("hashlib").sha256(submitted).hexdigest()
    for part, seed in seeds.submission_seeds(ASSIGNMENT, student, digest, secret.encode()).items():
        assert str(seed) not in seen, part
    for forbidden in (student, "snooper", secret, str(ASSIGNMENT.grading_seed), str(course_copy.root)):
        assert forbidden not in seen, forbidden
