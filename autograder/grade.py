"""Grade a class: collect → audit → sandbox → autograde → record → feedback → export.

    python -m autograder.grade normalization --workers 2 [--students alice bob] [--sandbox off]

Each submission is graded by real nbgrader autograde (its Python API, in long-lived
worker processes so nbgrader is imported once per worker, not once per student) into a
private gradebook, with the hidden checks served from outside the student's kernel
(autograder.remote). Its record then goes into the course gradebook, written only by
this process. A submission that breaks anything gets a clear status and 0 for what it
could not earn; it never stops the others.
"""
import argparse
import json
import multiprocessing
import multiprocessing.connection
import os
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder import course

MAX_FILE_BYTES = 20 * 2**20
MAX_TOTAL_BYTES = 100 * 2**20
MAX_FILES = 200
JOB_TIMEOUT = 600.0


@dataclass
class Outcome:
    """How grading one submission went (plain data, sent back from the workers)."""

    student: str
    status: str = "graded"
    parts: dict = field(default_factory=dict)      # part -> Verdict.to_dict()
    notes: list = field(default_factory=list)      # what the student and instructor should know
    flags: list = field(default_factory=list)      # integrity findings
    record: dict = field(default_factory=dict)     # for records.write_record
    seconds: float = 0.0
    log: str = ""                                  # nbgrader's log of the run (autograded/…/nbgrader.log)


# ---------------------------------------------------------------------------------------
# collect


class SubmissionError(Exception):
    """A submission that cannot be graded at all (the reason is shown to everyone)."""


def collect(student, assignment, destination):
    """Copy one submission into a clean folder nbgrader may read.

    Only regular files are copied (symlinks and special files are left out), sizes are
    capped, every expected notebook must parse, a single notebook with another name is
    graded as the expected one, and a notebook whose nbgrader metadata is broken is
    rebuilt from the release (autograder.repair).

    Returns (notes, flags) for the student's record.
    """
    source = course.SUBMITTED / student / assignment.id
    if not source.is_dir() or source.is_symlink():
        raise SubmissionError(f"no folder submitted/{student}/{assignment.id}")
    notes, total, count = [], 0, 0
    destination.mkdir(parents=True)
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if any(part.startswith(".") for part in relative.parts):
            continue
        if path.is_symlink():
            notes.append(f"ignored the symbolic link {relative} (only regular files are graded)")
            continue
        if path.is_dir():
            continue
        if not path.is_file():
            notes.append(f"ignored {relative}: not a regular file")
            continue
        size = path.stat().st_size
        count, total = count + 1, total + size
        if size > MAX_FILE_BYTES or total > MAX_TOTAL_BYTES or count > MAX_FILES:
            raise SubmissionError(f"submission too large ({relative}: limits are {MAX_FILES} files, "
                                  f"{MAX_FILE_BYTES >> 20} MB a file, {MAX_TOTAL_BYTES >> 20} MB in all)")
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)

    flags = []
    for name in assignment.notebooks:
        expected = destination / f"{name}.ipynb"
        if not expected.exists():
            others = sorted(p for p in destination.glob("*.ipynb")
                            if p.stem not in assignment.notebooks)
            if len(others) == 1:
                others[0].rename(expected)
                notes.append(f"graded {others[0].name} as {expected.name} (please keep the released name)")
            else:
                found = ", ".join(p.name for p in others) or "no notebook"
                raise SubmissionError(f"{expected.name} is missing (found {found})")
        flags += _repaired(expected, assignment.release_dir / expected.name, notes)
    return notes, flags


def _read_notebook(path):
    import nbformat

    if path.stat().st_size == 0:
        raise SubmissionError(f"{path.name} is an empty file")
    try:
        return nbformat.read(str(path), as_version=4)
    except Exception as error:
        raise SubmissionError(f"{path.name} is not a readable notebook ({type(error).__name__}: "
                              f"{str(error)[:120]})") from None


def _repaired(path, release_path, notes):
    """Rebuild a notebook whose nbgrader metadata is broken; returns integrity flags."""
    import nbformat

    from autograder import repair

    notebook = _read_notebook(path)
    release = nbformat.read(str(release_path), as_version=4)
    problems = repair.problems(notebook, release)
    if not problems:
        return []
    rebuilt, repair_notes = repair.rebuild(notebook, release)
    nbformat.write(rebuilt, str(path))
    notes.append("repaired: " + "; ".join(problems[:3]) + " — the answers were matched by name into "
                 "a fresh copy of the release")
    notes.extend(repair_notes)
    edited = [p for p in problems if "edited" in p or "unknown cell id" in p]
    return ["grading metadata edited: " + "; ".join(edited[:3])] if edited else []


# ---------------------------------------------------------------------------------------
# autograde (runs in a worker process)


def grade_submission(student, assignment_id, sandboxed, template_db):
    """Grade one submission into a private gradebook and return its Outcome."""
    from autograder import audit, records, sandbox
    from autograder.remote import CheckServer

    assignment = course.assignment(assignment_id)
    outcome = Outcome(student=student)
    started = time.monotonic()
    job_dir = Path(tempfile.mkdtemp(prefix="normlab-job-"))
    job_dir.chmod(0o755)
    try:
        submitted = job_dir / "submitted"
        try:
            notes, flags = collect(student, assignment, submitted / student / assignment.id)
            outcome.notes += notes
            outcome.flags += flags
            if any(note.startswith("repaired") for note in notes):
                outcome.status = "repaired: nbgrader metadata rebuilt from the release (see notes)"
        except SubmissionError as error:
            outcome.status = f"failed: {error}"
            outcome.record = records.failed_record(_timestamp(student, assignment))
            return outcome
        support = [p.name for p in assignment.source_dir.glob("*.py")]
        for name in assignment.notebooks:
            outcome.flags += audit.audit_notebook(submitted / student / assignment.id / f"{name}.ipynb",
                                                  ignore=support, release=assignment.release_dir / f"{name}.ipynb")

        job_db = job_dir / "gradebook.db"
        shutil.copyfile(template_db, job_db)
        db_url = f"sqlite:///{job_db}"
        check_dir = job_dir / "check"
        check_dir.mkdir(mode=0o755)
        socket_path = check_dir / "check.sock"
        overrides = {
            "CourseDirectory.db_url": db_url,
            "CourseDirectory.submitted_directory": str(submitted),
            "CourseDirectory.root": str(course.ROOT),
            "Execute.shutdown_kernel": "immediate",
        }
        kernel_env = {"NORMLAB_CHECK_SOCKET": str(socket_path)}
        environment = dict(kernel_env)
        if sandboxed:
            env, job = sandbox.prepare(job_dir, check_dir, extra_env=kernel_env)
            environment.update(env)
            overrides.update({
                "Execute.kernel_name": sandbox.KERNEL_NAME,
                "KernelManager.transport": "ipc",
                "KernelManager.ip": f"{job.runtime_dir}/kernel",
            })
        with _environment(environment), CheckServer(socket_path, student, assignment,
                                                    call_timeout=assignment.cell_timeout) as server:
            result = _autograde(assignment.id, student, overrides)
            if not result["success"] and not server.verdicts and "kernel_info" in _failure_reason(result):
                result = _autograde(assignment.id, student, overrides)  # the kernel never started: once more
        outcome.flags += server.flags  # what the server and the verdicts preprocessor noticed

        outcome.log = (result.get("log") or "") + (result.get("error") or "")
        if not result["success"]:
            # Parts graded before the run broke keep the grader's verdicts; the rest score 0.
            done = {part: v for part, v in server.verdicts.items() if part in assignment.auto_parts}
            outcome.status = f"failed: {_failure_reason(result)}"
            if done:
                outcome.notes.append(f"{len(done)} of {len(assignment.auto_parts)} autograded parts were "
                                     "graded before the notebook stopped; the others score 0")
            outcome.parts = {part: verdict.to_dict() for part, verdict in done.items()}
            outcome.record = records.failed_record(
                _timestamp(student, assignment), assignment.notebooks[0],
                {course.test_cell_id(part): verdict.score for part, verdict in done.items()})
            return outcome

        # the test cells already hold the verdicts (autograder.execute.GraderVerdicts)
        outcome.record = records.read_record(db_url, assignment.id, student)
        for part in assignment.auto_parts:
            verdict = server.verdicts.get(part)
            note = "not graded: its hidden test never reached the grader"
            outcome.parts[part] = verdict.to_dict() if verdict else {
                "part": part, "score": 0.0, "points": assignment.points[part], "note": note, "checks": [],
                "report": f"{part}: 0 points ({note})"}
        _feedback(assignment.id, student, overrides)
        return outcome
    except Exception:
        outcome.status = "failed: internal grader error (see the grading log)"
        outcome.notes.append(traceback.format_exc(limit=5))
        outcome.record = {"timestamp": None, "notebooks": {}, "failed": True}
        return outcome
    finally:
        outcome.seconds = round(time.monotonic() - started, 2)
        shutil.rmtree(job_dir, ignore_errors=True)


class _environment:
    """Temporarily set environment variables (the kernel inherits them)."""

    def __init__(self, values):
        self.values, self.saved = values, {}

    def __enter__(self):
        for key, value in self.values.items():
            self.saved[key] = os.environ.get(key)
            os.environ[key] = value

    def __exit__(self, *exc):
        for key, value in self.saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _autograde(assignment_id, student, overrides):
    return course.nbgrader_api(overrides).autograde(assignment_id, student, force=True, create=True)


def _feedback(assignment_id, student, overrides):
    result = course.nbgrader_api(overrides).generate_feedback(assignment_id, student, force=True)
    if not result["success"]:
        raise RuntimeError(f"generate_feedback failed: {result.get('error', '')[-500:]}")


def _failure_reason(result):
    """The error nbgrader reported, in one line (warnings are not reasons)."""
    lines = [line.replace("[ERROR]", "").strip()
             for line in (result.get("log") or "").splitlines() + (result.get("error") or "").splitlines()
             if "[WARNING]" not in line and "[INFO]" not in line]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Timeout)\w*: ", line)
              and not line.startswith(("nbgrader.converters.base.NbGraderException", "NbGraderException"))]
    if raised:
        return raised[-1][:240]
    errors = [line for line in lines if line and "Please see" not in line and "Traceback" not in line]
    return (errors[0] if errors else "nbgrader autograde failed")[:240]


def _timestamp(student, assignment):
    path = course.SUBMITTED / student / assignment.id / "timestamp.txt"
    if path.is_symlink() or not path.is_file():
        return None
    try:
        return path.read_text().strip()[:64] or None
    except (OSError, UnicodeDecodeError):
        return None


# ---------------------------------------------------------------------------------------
# workers


def _prepare_worker():
    """What every grading process needs, done once (before the workers fork from this process)."""
    import warnings

    import nbgrader.apps  # noqa: F401  (importing nbgrader is the expensive part)
    from sqlalchemy.exc import SAWarning

    # nbgrader's gradebook code trips SQLAlchemy 2's autoflush warnings; they are harmless noise
    warnings.filterwarnings("ignore", category=SAWarning)

    from autograder import checks, sandbox

    checks.warm_up()
    sandbox.matplotlib_cache()


def _worker(connection):
    """A long-lived grading process: grades what it is sent, one submission at a time."""
    _prepare_worker()  # nothing left to do after a fork; a spawned worker imports here
    os.chdir(course.ROOT)
    while True:
        task = connection.recv()
        if task is None:
            return
        outcome = grade_submission(task["student"], task["assignment"], task["sandboxed"], task["template_db"])
        connection.send(asdict(outcome))


class WorkerPool:
    """n worker processes; a job that runs too long costs its worker, which is replaced."""

    def __init__(self, workers, job_timeout=JOB_TIMEOUT):
        # fork: the workers inherit nbgrader and the warmed-up checks from this process
        method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
        self.context = multiprocessing.get_context(method)
        self.job_timeout = job_timeout
        self.slots = [self._start() for _ in range(workers)]

    def _start(self):
        parent, child = self.context.Pipe()
        process = self.context.Process(target=_worker, args=(child,), daemon=True)
        process.start()
        child.close()
        return {"process": process, "pipe": parent, "task": None, "since": 0.0}

    def run(self, tasks, on_outcome):
        """Grade every task; call on_outcome(dict) as each finishes."""
        pending = list(tasks)
        busy = 0
        while pending or busy:
            for worker in self.slots:
                if worker["task"] is None and pending:
                    worker["task"] = pending.pop(0)
                    worker["since"] = time.monotonic()
                    busy += 1
                    try:
                        worker["pipe"].send(worker["task"])
                    except OSError:  # the worker died before taking work: its task fails below
                        worker["process"].join(timeout=5)
            ready = multiprocessing.connection.wait([w["pipe"] for w in self.slots if w["task"]], timeout=1.0)
            for worker in self.slots:
                if worker["task"] is None:
                    continue
                if worker["pipe"] in ready:
                    try:
                        outcome = worker["pipe"].recv()
                    except EOFError:
                        outcome = asdict(Outcome(student=worker["task"]["student"],
                                                 status="failed: the grading process crashed"))
                        self._replace(worker)
                elif time.monotonic() - worker["since"] > self.job_timeout:
                    outcome = asdict(Outcome(student=worker["task"]["student"],
                                             status=f"failed: grading took longer than {self.job_timeout:g} s"))
                    self._replace(worker)
                elif not worker["process"].is_alive():
                    outcome = asdict(Outcome(student=worker["task"]["student"],
                                             status="failed: the grading process crashed"))
                    self._replace(worker)
                else:
                    continue
                worker["task"] = None
                busy -= 1
                on_outcome(outcome)

    def _replace(self, worker):
        worker["process"].kill()
        worker["process"].join()
        worker.update(self._start())

    def close(self):
        for worker in self.slots:
            try:
                worker["pipe"].send(None)
            except OSError:
                pass
        for worker in self.slots:
            worker["process"].join(timeout=10)
            if worker["process"].is_alive():
                worker["process"].kill()


# ---------------------------------------------------------------------------------------
# the class


def discover_students(assignment):
    """Student ids with a folder submitted/<student>/<assignment>."""
    if not course.SUBMITTED.is_dir():
        return []
    return sorted(p.name for p in course.SUBMITTED.iterdir()
                  if (p / assignment.id).is_dir() and not p.name.startswith("."))


def grade_class(assignment_id=course.DEFAULT_ASSIGNMENT, students=None, workers=2, sandboxed=True,
                progress=True, job_timeout=JOB_TIMEOUT):
    """Grade submissions, update the course gradebook, write results.json and grades.csv.

    Returns the list of Outcome dicts, in student order.
    """
    from autograder import export, records, release

    assignment = course.assignment(assignment_id)
    students = sorted(students) if students else discover_students(assignment)
    _prepare_worker()
    pool = WorkerPool(min(workers, len(students)), job_timeout=job_timeout) if students else None
    template_db = release.gradebook_template(assignment)
    release.ensure_gradebook(assignment, template_db)
    tasks = [{"student": s, "assignment": assignment.id, "sandboxed": sandboxed,
              "template_db": str(template_db)} for s in students]
    outcomes = {}
    bar = _progress(len(tasks), progress)

    def record(outcome):
        records.write_record(f"sqlite:///{course.GRADEBOOK}", assignment.id, outcome["student"],
                             outcome["record"])
        export.write_results(assignment, outcome)
        outcomes[outcome["student"]] = outcome
        bar.update(1)

    if pool:
        try:
            pool.run(tasks, record)
        finally:
            pool.close()
    bar.close()
    export.write_grades_csv(assignment)
    return [outcomes[s] for s in students]


def _progress(total, enabled):
    from tqdm import tqdm

    return tqdm(total=total, desc="grading", unit="submission", disable=not enabled, file=sys.stderr)


def main(argv=None):
    from autograder import export, sandbox

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment", nargs="?", default=course.DEFAULT_ASSIGNMENT)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--students", nargs="*", default=None)
    parser.add_argument("--sandbox", choices=("on", "off"), default="on",
                        help="off: run student code unsandboxed (trusted submissions only)")
    parser.add_argument("--job-timeout", type=float, default=JOB_TIMEOUT)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)

    sandboxed = args.sandbox == "on"
    if sandboxed:
        ok, reason = sandbox.available()
        if not ok:
            print(f"Refusing to grade: the sandbox cannot start ({reason}).\n"
                  "Student code would run with your permissions. Fix the sandbox, or opt out "
                  "explicitly for trusted submissions: make grade SANDBOX=off", file=sys.stderr)
            return 2
    else:
        print("WARNING: grading WITHOUT the sandbox: student code runs as you, can read source/ "
              "and gradebook.db (hidden checks still run outside the kernel).", file=sys.stderr)
    started = time.monotonic()
    outcomes = grade_class(args.assignment, args.students, args.workers, sandboxed,
                           progress=not args.quiet, job_timeout=args.job_timeout)
    print(export.summary_table(course.assignment(args.assignment), outcomes))
    print(f"graded {len(outcomes)} submission(s) in {time.monotonic() - started:.1f} s "
          f"with {args.workers} worker(s); grades in {course.GRADES_CSV.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
