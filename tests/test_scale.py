"""Beyond one machine (issue 12): a real Dask scheduler with real workers (one killed mid-run), and
a real PostgreSQL server written by two grading runs and formgrader at once."""
import csv
import json
import sqlite3
import subprocess
import sys
import time
import urllib.request

from nbgrader.api import Gradebook

import browser
import servers
from autograder import corpus, course, job
from autograder.corpus import hostile

ASSIGNMENT = course.assignment()
NOTEBOOK = ASSIGNMENT.notebooks[0]
PARTLY_RIGHT = corpus.load("examples", ["partly_right"])[0]
EPS_OUTSIDE = corpus.load("examples", ["eps_outside_sqrt"])[0]


def _grade_command(course_copy, *extra, **env):
    return subprocess.Popen([sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--quiet", *extra],
                            cwd=course_copy.root, env=course_copy.env(**env), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _busy_worker(cluster, process, seconds=600):
    """A worker of the cluster with a grading job in hand (its job folder is named after it)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and process.poll() is None:
        busy = {int(p.name.split("-")[0]) for p in job.JOBS_ROOT.glob("*-*")} if job.JOBS_ROOT.exists() else set()
        for worker in cluster.workers:
            if worker.poll() is None and worker.pid in busy:
                return worker
        time.sleep(0.2)
    raise AssertionError("no Dask worker took a grading job")


def _reset(course_copy):
    for name in ("autograded", "feedback"):
        subprocess.run(["rm", "-rf", str(course_copy.root / name)], check=True)
    for name in ("gradebook.db", "grades.csv"):
        (course_copy.root / name).unlink(missing_ok=True)


def test_a_dask_cluster_grades_like_one_machine_even_when_a_worker_dies(course):
    students = {"ann": hostile.PERFECT, "bob": hostile.BLANK, "cid": PARTLY_RIGHT, "dee": EPS_OUTSIDE,
                "eve": hostile.PERFECT}
    for name, entry in students.items():
        corpus.write_submission(entry, course.submitted, student=name, timestamp="2026-12-10 10:00:00 UTC")
    course.grade(workers=2)
    on_one_machine = (course.root / "grades.csv").read_bytes()
    _reset(course)

    cluster = servers.DaskCluster(course.env(), course.root, workers=2)
    try:
        process = _grade_command(course, "--scheduler", cluster.address)
        cluster.kill(_busy_worker(cluster, process))
        stdout, stderr = process.communicate(timeout=1200)
    finally:
        cluster.close()
    assert process.returncode == 0, stderr[-3000:]
    assert "on the cluster at" in stdout
    assert (course.root / "grades.csv").read_bytes() == on_one_machine
    assert all(row["status"] == "graded" for row in course.grades().values())


def test_a_submission_whose_worker_is_lost_twice_is_failed_once_and_never_twice(course):
    corpus.write_submission(hostile.PERFECT, course.submitted, student="ann")
    cluster = servers.DaskCluster(course.env(), course.root, workers=1)
    try:
        process = _grade_command(course, "--scheduler", cluster.address)
        for _ in range(2):
            worker = _busy_worker(cluster, process)
            cluster.add_worker()  # the next attempt needs somewhere to go
            cluster.kill(worker)
        stdout, stderr = process.communicate(timeout=1200)
    finally:
        cluster.close()
    assert process.returncode == 0, stderr[-3000:]
    row = course.grades()["ann"]
    assert row["status"] == "failed: the grading worker was lost 2 times while grading it"
    assert all(float(row[part]) == 0 for part in ASSIGNMENT.auto_parts)
    database = sqlite3.connect(course.root / "gradebook.db")
    assert database.execute("select count(*) from submitted_assignment").fetchone()[0] == 1


def _api(lab, path, method="GET", body=None):
    request = urllib.request.Request(f"{lab.base}{path}", method=method,
                                     data=None if body is None else json.dumps(body).encode(),
                                     headers={"Authorization": f"token {lab.token}",
                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def _grade_by_hand_in_formgrader(server, student, scores):
    """Save manual scores the way formgrader's page does: through its REST API."""
    notebooks = _api(server, f"/formgrader/api/submitted_notebooks/{ASSIGNMENT.id}/{NOTEBOOK}")
    submission = next(n for n in notebooks if n["student"] == student)
    for grade in _api(server, f"/formgrader/api/grades?submission_id={submission['id']}"):
        if grade["name"] in scores:
            _api(server, f"/formgrader/api/grade/{grade['id']}", "PUT", {"manual_score": scores[grade["name"]]})


def test_two_grading_runs_and_formgrader_share_one_postgresql_gradebook(course, tmp_path):
    manual = dict(zip(ASSIGNMENT.manual_parts, (3.0, 5.5)))
    with servers.postgres() as url:
        corpus.write_submission(hostile.PERFECT, course.submitted, student="early")
        course.run(sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--quiet", "--workers", "1",
                   NORMLAB_DB_URL=url)
        runs = {"a": [f"a{i}" for i in range(4)], "b": [f"b{i}" for i in range(4)]}
        for name in runs["a"] + runs["b"]:
            corpus.write_submission(PARTLY_RIGHT if name.endswith(("1", "3")) else hostile.PERFECT,
                                    course.submitted, student=name)
        server = browser.wait_for_lab(browser.start_lab(course.root, tmp_path / "lab", env={"NORMLAB_DB_URL": url}))
        try:
            processes = [_grade_command(course, "--workers", "1", "--students", *names, NORMLAB_DB_URL=url)
                         for names in runs.values()]
            time.sleep(5)
            _grade_by_hand_in_formgrader(server, "early", manual)   # while both runs write
            for process in processes:
                stdout, stderr = process.communicate(timeout=1200)
                assert process.returncode == 0, stderr[-3000:]
        finally:
            browser.stop_lab(server)
        course.run(sys.executable, "-m", "autograder.feedback", ASSIGNMENT.id, NORMLAB_DB_URL=url)
        exported = course.run("nbgrader", "export", "--to", str(tmp_path / "export.csv"), NORMLAB_DB_URL=url)
        assert exported.returncode == 0
        with Gradebook(url) as gb:
            assert len(gb.find_assignment(ASSIGNMENT.id).submissions) == 9
            for part, score in manual.items():
                assert gb.find_grade(part, NOTEBOOK, ASSIGNMENT.id, "early").manual_score == score
    assert not (course.root / "gradebook.db").exists(), "grading wrote SQLite instead of PostgreSQL"
    rows = course.grades()
    assert set(rows) == {"early", *runs["a"], *runs["b"]}
    assert all(row["status"] == "graded" for row in rows.values())
    assert [float(rows["early"][p]) for p in manual] == list(manual.values())
    assert float(rows["early"]["raw_score"]) == 60 + sum(manual.values())
    with open(tmp_path / "export.csv", newline="") as handle:
        theirs = {row["student_id"]: float(row["raw_score"]) for row in csv.DictReader(handle)}
    assert theirs == {student: float(row["raw_score"]) for student, row in rows.items()}
