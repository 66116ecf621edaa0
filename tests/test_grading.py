"""Grading a class: parallel workers on one gradebook, a trustworthy record, exports."""
import os
import sys

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder import corpus, course

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"
PERFECT = corpus.Entry(name="perfect", kind="examples", description="")
BLANK = corpus.Entry(name="blank", kind="examples", description="", blank=True)


def submit(course_copy, student, entry=PERFECT, extra_cell=None, timestamp="2026-12-10 10:00:00 UTC"):
    folder = corpus.write_submission(entry, course_copy.submitted, student=student, timestamp=timestamp)
    if extra_cell:
        path = folder / NOTEBOOK
        notebook = nbformat.read(str(path), as_version=4)
        notebook.cells.insert(3, nbformat.v4.new_code_cell(extra_cell))
        nbformat.write(notebook, str(path))
    return folder


def gradebook_rows(course_copy):
    """(student, grade_id, auto_score) for every grade row of the assignment."""
    rows = []
    with Gradebook(f"sqlite:///{course_copy.root / 'gradebook.db'}") as gb:
        for submission in gb.find_assignment(ASSIGNMENT.id).submissions:
            for notebook in submission.notebooks:
                rows += [(submission.student.id, g.name, g.auto_score) for g in notebook.grades]
    return sorted(rows, key=lambda r: (r[0], r[1]))


def graded_cells():
    return len(ASSIGNMENT.auto_parts) + len(ASSIGNMENT.manual_parts)


@pytest.fixture(scope="module")
def class_of_eight(module_course):
    for index in range(8):
        submit(module_course, f"student{index}", PERFECT if index % 2 == 0 else BLANK)
    module_course.grade(workers=4)
    return module_course


def test_four_workers_on_one_gradebook_lose_and_duplicate_nothing(class_of_eight):
    rows = gradebook_rows(class_of_eight)
    assert len(rows) == 8 * graded_cells()
    assert len(set((s, g) for s, g, _ in rows)) == len(rows)
    grades = class_of_eight.grades()
    assert sorted(grades) == [f"student{i}" for i in range(8)]
    for index in range(8):
        expected = ASSIGNMENT.max_score - sum(ASSIGNMENT.points[p] for p in ASSIGNMENT.manual_parts) \
            if index % 2 == 0 else 0.0
        assert float(grades[f"student{index}"]["raw_score"]) == expected
        assert grades[f"student{index}"]["status"] == "graded"


def test_grading_the_same_submissions_twice_gives_an_identical_grades_csv(class_of_eight):
    first = (class_of_eight.root / "grades.csv").read_bytes()
    class_of_eight.grade(workers=2)
    assert (class_of_eight.root / "grades.csv").read_bytes() == first


def test_regrading_one_student_leaves_the_others_and_manual_grades_alone(class_of_eight):
    manual = ASSIGNMENT.manual_parts[0]
    with Gradebook(f"sqlite:///{class_of_eight.root / 'gradebook.db'}") as gb:
        for student in ("student0", "student1"):
            gb.find_grade(manual, ASSIGNMENT.notebooks[0], ASSIGNMENT.id, student).manual_score = 3.0
        gb.db.commit()
    others_before = [r for r in gradebook_rows(class_of_eight) if r[0] != "student0"]
    submit(class_of_eight, "student0", BLANK)  # student0 hands in a new (empty) version
    class_of_eight.grade("student0", workers=1)
    assert [r for r in gradebook_rows(class_of_eight) if r[0] != "student0"] == others_before
    after = class_of_eight.grades()
    assert after["student1"][manual] == "3.0"
    assert after["student0"]["batchnorm_forward"] == "0.0"
    assert after["student0"][manual] == "3.0"  # the grader's manual score survives the re-run
    with Gradebook(f"sqlite:///{class_of_eight.root / 'gradebook.db'}") as gb:
        regraded = gb.find_grade(manual, ASSIGNMENT.notebooks[0], ASSIGNMENT.id, "student0")
        assert regraded.needs_manual_grade  # new submission: the manual grade is flagged for review


def test_a_failed_regrade_never_leaves_a_stale_score(course):
    submit(course, "flaky")
    course.grade(workers=1)
    assert float(course.grades()["flaky"]["batchnorm_forward"]) == ASSIGNMENT.points["batchnorm_forward"]
    submit(course, "flaky", extra_cell="import os\nos._exit(1)")  # the kernel dies
    course.grade(workers=1)
    row = course.grades()["flaky"]
    assert row["status"].startswith("failed"), row["status"]
    assert all(float(row[p]) == 0 for p in ASSIGNMENT.auto_parts), row
    assert float(row["raw_score"]) == 0


def test_grading_refuses_without_a_sandbox_unless_the_instructor_opts_out(course):
    submit(course, "someone")
    path = os.pathsep.join([str(os.path.dirname(sys.executable))])  # no bwrap, prlimit, setpriv
    refused = course.run(sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--quiet",
                         check=False, PATH=path)
    assert refused.returncode == 2 and "Refusing to grade" in refused.stderr
    assert not (course.root / "grades.csv").exists()
    allowed = course.run(sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--quiet",
                         "--sandbox", "off", PATH=path)
    assert "WITHOUT the sandbox" in allowed.stderr
    assert course.grades()["someone"]["status"] == "graded"


def test_results_json_is_gradescope_shaped(class_of_eight):
    results = class_of_eight.results("student2")  # no grader has read student2's written answers
    assert set(results) >= {"score", "tests", "output", "execution_time"}
    assert [t["name"] for t in results["tests"]] == ASSIGNMENT.parts
    manual = [t for t in results["tests"] if t["name"] in ASSIGNMENT.manual_parts]
    assert all("score" not in t and "not graded yet" in t["output"] for t in manual), manual
    feedback_copy = class_of_eight.root / "feedback" / "student2" / ASSIGNMENT.id / "results.json"
    assert feedback_copy.read_text() == (class_of_eight.root / "autograded" / "student2" / ASSIGNMENT.id
                                          / "results.json").read_text()


def test_results_json_says_which_written_answers_were_graded_by_hand_and_which_are_empty(class_of_eight):
    """student3 handed in the blank release: a grader gives its first written answer 1 point
    anyway; the other, left as released, is 0 without anyone reading it (nbgrader's rule), and
    results.json says which is which."""
    graded, empty = ASSIGNMENT.manual_parts
    with Gradebook(f"sqlite:///{class_of_eight.root / 'gradebook.db'}") as gb:
        gb.find_grade(graded, ASSIGNMENT.notebooks[0], ASSIGNMENT.id, "student3").manual_score = 1.0
        # a grader's comment quoting markup (as a pasted student answer would): shown, never run
        gb.find_comment(graded, ASSIGNMENT.notebooks[0], ASSIGNMENT.id, "student3").manual_comment = (
            "COMMENT-SEEN <script>alert(1)</script> <img src=x onerror=alert(2)>")
        gb.db.commit()
    class_of_eight.run(sys.executable, "-m", "autograder.feedback", ASSIGNMENT.id)
    tests = {t["name"]: t for t in class_of_eight.results("student3")["tests"]}
    assert tests[graded]["score"] == 1.0 and tests[graded]["output"] == "graded by hand"
    assert tests[empty]["score"] == 0 and "no answer written" in tests[empty]["output"]
    page = (class_of_eight.root / "feedback" / "student3" / ASSIGNMENT.id / f"{ASSIGNMENT.notebooks[0]}.html").read_text()
    assert "COMMENT-SEEN" in page
    assert "<script>alert(1)" not in page and "onerror" not in page


def test_nbgraders_own_api_reads_the_grades_formgrader_shows(class_of_eight):
    """Formgrader lists submissions through NbGraderAPI; it sees the scores grades.csv has."""
    api_scores = class_of_eight.run(sys.executable, "-c", (
        "from autograder import course\n"
        "api = course.nbgrader_api()\n"
        f"for s in api.get_submissions('{ASSIGNMENT.id}'):\n"
        "    print(s['student'], s['score'])\n")).stdout.split()
    scores = dict(zip(api_scores[::2], map(float, api_scores[1::2])))
    rows = class_of_eight.grades()
    assert set(scores) == set(rows)
    for student, row in rows.items():
        assert scores[student] == float(row["raw_score"])


def test_make_grade_is_the_class_grading_command(course):
    """`make grade` (the README's command) grades the course it is pointed at."""
    import subprocess

    from conftest import REPO

    submit(course, "via_make")
    result = subprocess.run(["make", "-C", str(REPO), "grade", "WORKERS=1"], env=course.env(),
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "via_make" in result.stdout and "graded 1 submission(s)" in result.stdout
    assert course.grades()["via_make"]["status"] == "graded"


def test_a_worker_killed_mid_job_fails_only_its_student_and_leaves_no_job_folder(course):
    """A grading process that dies (killed, out of memory) costs its submission alone."""
    import signal
    import subprocess
    import time

    from autograder import job

    for name in ("kim", "lee", "max"):
        submit(course, name)
    process = subprocess.Popen([sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--workers", "2",
                                "--quiet"], cwd=course.root, env=course.env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    children = lambda: {int(p) for p in subprocess.run(  # noqa: E731
        ["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()}
    victim, deadline = None, time.monotonic() + 300
    while victim is None and time.monotonic() < deadline and process.poll() is None:
        busy = {int(p.name.split("-")[0]) for p in job.JOBS_ROOT.glob("*-*")} if job.JOBS_ROOT.exists() else set()
        victim = next(iter(busy & children()), None)
        time.sleep(0.2)
    assert victim is not None, "no worker ever took a job"
    os.kill(victim, signal.SIGKILL)
    stdout, stderr = process.communicate(timeout=900)
    assert process.returncode == 0, stderr[-3000:]
    rows = course.grades()
    failed = [s for s, row in rows.items() if row["status"].startswith("failed")]
    assert len(failed) == 1 and rows[failed[0]]["status"] == "failed: the grading process crashed"
    assert all(float(rows[failed[0]][p]) == 0 for p in ASSIGNMENT.auto_parts)
    for student in set(rows) - set(failed):
        assert rows[student]["status"] == "graded" and float(rows[student]["raw_score"]) == 60.0
    assert not [p for p in job.JOBS_ROOT.glob(f"{victim}-*")], "the killed worker's job folder is left behind"
