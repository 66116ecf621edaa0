"""Shared helpers: temporary copies of the course, graded by the real commands."""
import csv
import json
import os
import stat
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
COURSE_FILES = ("nbgrader_config.py", "assignments", "source", "release")


def course_manifest():
    from autograder import course

    return course.assignment()


class Course:
    """A temporary copy of the course directory, with helpers to run the real commands in it."""

    def __init__(self, root):
        self.root = Path(root)
        self.root.mkdir(parents=True)
        for name in COURSE_FILES:
            source = REPO / name
            if source.is_dir():
                shutil.copytree(source, self.root / name)
            else:
                shutil.copy(source, self.root / name)

    @property
    def submitted(self):
        return self.root / "submitted"

    def env(self, **extra):
        env = dict(os.environ)
        env["NORMLAB_COURSE_ROOT"] = str(self.root)
        env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
        env.update(extra)
        return env

    def run(self, *args, check=True, timeout=1200, **extra_env):
        """Run a command (e.g. python -m autograder.grade) with this copy as the course."""
        result = subprocess.run(list(args), cwd=self.root, env=self.env(**extra_env),
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"{args} failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
                                 f"{result.stderr[-5000:]}")
        return result

    def grade(self, *students, workers=2, sandbox="on", check=True, extra=()):
        args = [sys.executable, "-m", "autograder.grade", "normalization", "--workers", str(workers),
                "--sandbox", sandbox, "--quiet", *extra]
        if students:
            args += ["--students", *students]
        return self.run(*args, check=check)

    def grades(self):
        """grades.csv as {student_id: row}, with spreadsheet quoting undone ("'=1+2" is "=1+2")."""
        with open(self.root / "grades.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        unquote = lambda v: v[1:] if v[:2] in ("'=", "'+", "'-", "'@") else v  # noqa: E731
        return {unquote(row["student_id"]): {k: unquote(v) for k, v in row.items()} for row in rows}

    def results(self, student):
        path = self.root / "autograded" / student / "normalization" / "results.json"
        return json.loads(path.read_text())

    def part_scores(self, student):
        """{part: score} of the autograded parts in the student's results.json."""
        auto = set(course_manifest().auto_parts)
        return {t["name"]: t["score"] for t in self.results(student)["tests"] if t["name"] in auto}


@pytest.fixture
def course(tmp_path):
    """A fresh temporary copy of the course."""
    return Course(tmp_path / "course")


@pytest.fixture(scope="module")
def module_course(tmp_path_factory):
    """A temporary copy of the course shared by the tests of one module."""
    return Course(tmp_path_factory.mktemp("course") / "course")


GRADER_USER = "normlab-tester"


@pytest.fixture(scope="session")
def grader_user():
    """A normal user who grades (created when the tests run as root; else the current user)."""
    import pwd

    if os.geteuid() != 0:
        return pwd.getpwuid(os.geteuid()).pw_name
    try:
        pwd.getpwnam(GRADER_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", GRADER_USER],
                       check=True, capture_output=True)
    # the grading user must reach the course and its environment (a clone under `mktemp -d` sits in
    # a folder only root may enter): let others pass through the folders above it, nothing more
    for folder in REPO.parents:
        mode = folder.stat().st_mode
        if not mode & stat.S_IXOTH:
            folder.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
    return GRADER_USER
