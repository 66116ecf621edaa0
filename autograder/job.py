"""Grade one submission: rebuild → audit → sandboxed nbgrader autograde → feedback.

A job runs in a worker process (one of `make grade`'s local workers, or a Dask worker on
another machine). It takes a Task and returns an Outcome, both plain data: the submission
travels in the task as bytes, and the verdicts, the gradebook record and the files for
autograded/ and feedback/ come back in the outcome. A job never touches the course's
gradebook or folders; only the grading command writes them.

Inside a job the submission is graded by nbgrader under the id PSEUDONYM, in a private
folder and a private copy of the template gradebook, so the student's kernel sees neither
the student's id nor the seeds of its tests.
"""
import os
import re
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from autograder import course, kernel, sandbox, text

PSEUDONYM = "student"
# nbconvert validates the whole notebook after each of its steps (about 70 times per submission);
# validated once at the end, an invalid notebook is refused all the same.
VALIDATED_ONCE = {"Exporter.optimistic_validation": True}
JOBS_ROOT = Path(tempfile.gettempdir()) / f"normlab-jobs-{os.getuid()}"  # one per grading user


@dataclass
class Task:
    """One submission to grade (plain data).

    - notebook: the bytes the student handed in
    - seeds: {part: seed} of the hidden tests (autograder.seeds)
    - timestamp: ISO submission time or None
    - manual: {grade_id: {"score": float or None, "comment": str or None}} given by hand so
      far, shown in the feedback
    """

    student: str
    assignment: str
    notebook: bytes
    seeds: dict
    timestamp: str = None
    sandboxed: bool = True
    manual: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """How grading one submission went (plain data, sent back to the grading command)."""

    student: str
    status: str = "graded"
    parts: dict = field(default_factory=dict)      # part -> Verdict.to_dict()
    notes: list = field(default_factory=list)      # what the student and instructor should know
    flags: list = field(default_factory=list)      # integrity findings
    record: dict = field(default_factory=dict)     # for records.write_record
    seconds: float = 0.0
    log: str = ""                                  # for the instructor only (autograded/…/grading.log)
    files: dict = field(default_factory=dict)      # {"autograded/<name>": str, "feedback/<name>": str}


class SubmissionError(Exception):
    """A submission that cannot be graded at all (the reason is shown to everyone)."""


def failed(student, reason, timestamp=None, notes=(), log=""):
    """The Outcome of a submission that could not be graded: 0 for every autograded part."""
    from autograder import records

    return Outcome(student=student, status=f"failed: {text.one_line(reason, 240)}", notes=list(notes),
                   record=records.failed_record(timestamp), log=log)


def grade(task):
    """Grade one Task (or its dict); return the Outcome as a dict. Never raises."""
    from autograder import rebuild

    task = Task(**task) if isinstance(task, dict) else task
    started = time.monotonic()
    job_dir = new_job_dir()
    try:
        outcome = _grade(task, job_dir)
    except (SubmissionError, rebuild.UnreadableNotebook) as error:
        outcome = failed(task.student, str(error), task.timestamp)
    except Exception:
        outcome = failed(task.student, "internal grader error (the instructor has the details)", task.timestamp,
                         log=traceback.format_exc())
    finally:
        sandbox.release(job_dir)
        shutil.rmtree(job_dir, ignore_errors=True)
        shutil.rmtree(_private_gradebook_folder(), ignore_errors=True)
    outcome.seconds = round(time.monotonic() - started, 2)
    return asdict(outcome)


def _grade(task, job_dir):
    from autograder import audit, feedback, marking, records, release, reuse, sandbox, sanitize
    from autograder.remote import CheckServer

    assignment = course.assignment(task.assignment)
    outcome = Outcome(student=task.student)
    folder = job_dir / "submitted" / PSEUDONYM / assignment.id
    folder.mkdir(parents=True)
    notebook_path = folder / f"{assignment.notebooks[0]}.ipynb"
    released = nbformat.read(str(assignment.release_dir / notebook_path.name), as_version=4)
    notebook = _write_notebook(task.notebook, notebook_path, released, outcome)
    if task.timestamp:
        (folder / "timestamp.txt").write_text(task.timestamp + "\n")
    outcome.flags += audit.audit_notebook(notebook_path)
    facts = audit.grading_facts(notebook, released)
    if facts["closed_form_problem"]:
        outcome.flags.append(facts["closed_form_problem"])

    job_db = private_gradebook()
    shutil.copyfile(release.gradebook_template(assignment), job_db)
    reuse.throwaway(f"sqlite:///{job_db}")
    overrides = {
        "CourseDirectory.db_url": f"sqlite:///{job_db}",
        "CourseDirectory.root": str(course.ROOT),
        "CourseDirectory.submitted_directory": str(job_dir / "submitted"),
        "CourseDirectory.autograded_directory": str(job_dir / "autograded"),
        "CourseDirectory.feedback_directory": str(job_dir / "feedback"),
        "Execute.shutdown_kernel": "immediate",
        "GenerateFeedback.post_convert_hook": None,  # the grading command writes the course's files
        "CappedExecute.time_budget": float(assignment.submission_timeout),
        **VALIDATED_ONCE,
    }
    check_dir = job_dir / "check"
    check_dir.mkdir(mode=0o755)
    socket_path = check_dir / "check.sock"
    environment = {"NORMLAB_CHECK_SOCKET": str(socket_path)}
    hooks, groups = [], []
    if task.sandboxed:
        env, kernel_job = sandbox.prepare(job_dir, check_dir, extra_env=dict(environment))
        environment.update(env)
        hooks.append(lambda pid: sandbox.lock(kernel_job))
        groups = kernel_job.cgroups
        overrides.update({
            "Execute.kernel_name": sandbox.KERNEL_NAME,
            "KernelManager.transport": "ipc",
            "KernelManager.ip": f"{kernel_job.runtime_dir}/kernel",
        })
    with kernel.environment(environment), kernel.namespace_reaper() as reaper, \
            CheckServer(socket_path, assignment, task.seeds, call_timeout=assignment.cell_timeout / 2,
                        facts=facts) as server, \
            kernel.ready_hooks(hooks + [reaper.note, lambda pid: kernel.attach(server, pid, groups)]):
        result = _autograde(assignment.id, overrides)
        if not result["success"] and not server.verdicts and "kernel_info" in _failure_reason(result):
            result = _autograde(assignment.id, overrides)  # the kernel never started: once more
    outcome.flags += server.flags  # what the server and the verdicts preprocessor noticed
    outcome.log = (result.get("log") or "") + (result.get("error") or "")
    if server.budget_exceeded:
        outcome.status = (f"failed: the notebook ran longer than {assignment.submission_timeout} s; the cells "
                          "after that were not run")

    if not result["success"]:
        # Parts graded before the run broke keep the grader's verdicts; the rest score 0.
        done = {part: v for part, v in server.verdicts.items() if part in assignment.auto_parts}
        outcome.status = f"failed: {_failure_reason(result)}"
        if done:
            outcome.notes.append(f"{len(done)} of {len(assignment.auto_parts)} autograded parts were "
                                 "graded before the notebook stopped; the others score 0")
        outcome.parts = {part: verdict.to_dict() for part, verdict in done.items()}
        outcome.record = records.failed_record(
            task.timestamp, assignment.notebooks[0],
            {course.test_cell_id(part): verdict.score for part, verdict in done.items()})
        return outcome

    db_url = overrides["CourseDirectory.db_url"]
    outcome.record = records.read_record(db_url, assignment.id, PSEUDONYM)
    for part in assignment.auto_parts:
        verdict = server.verdicts.get(part)
        note = "not graded: its hidden test never reached the grader"
        outcome.parts[part] = verdict.to_dict() if verdict else {
            "part": part, "score": 0.0, "points": assignment.points[part], "note": note, "checks": [],
            "report": f"{part}: 0 points ({note})"}
    records.apply_manual(db_url, assignment.id, PSEUDONYM, task.manual)
    graded = job_dir / "autograded" / PSEUDONYM / assignment.id / notebook_path.name
    graded.chmod(0o644)
    notebook = marking.add_mark_schemes(nbformat.read(str(graded), as_version=4), assignment)
    sanitize.sanitize_notebook(notebook)  # formgrader and the feedback show it: nothing in it may run
    nbformat.write(notebook, str(graded))
    outcome.files = {f"autograded/{graded.name}": graded.read_text(encoding="utf-8"),
                     f"feedback/{graded.stem}.html": feedback.feedback_html(graded, db_url, PSEUDONYM, assignment.id)}
    return outcome


def _write_notebook(data, path, released, outcome):
    """Rebuild the submission from the release with the student's answers and write it.

    Damage to the notebook's structure costs nothing (the status says it was repaired); edits
    to read-only cells are undone and flagged.
    """
    from autograder import rebuild

    notebook, notes = rebuild.rebuild_file(data, released)
    outcome.notes += notes.all()
    outcome.flags += [f"changed a read-only cell: {remark}" for remark in notes.remarks
                      if remark.startswith("edits to the read-only cell")]
    if notes.damaged:
        outcome.status = "repaired: " + "; ".join(notes.repairs[:3])
    nbformat.write(notebook, str(path))
    return notebook


# ---------------------------------------------------------------------------------------
# the job's folder


def new_job_dir():
    """A fresh private folder for one job, named after this process (see sweep)."""
    JOBS_ROOT.mkdir(mode=0o711, exist_ok=True)
    JOBS_ROOT.chmod(0o711)  # sandbox uids pass through to their own job's folder, list nothing
    sweep()
    path = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=JOBS_ROOT))
    path.chmod(0o755)
    return path


def private_gradebook():
    """A fresh path for the private gradebook of the job this thread runs now.

    Every job of a thread uses the same path, so nbgrader's gradebooks reach one shared
    SQLAlchemy engine (reuse.share_engines) whose compiled statements serve every submission
    (measured: reading a record back 0.09 s -> 0.01 s). The folder is emptied first: no journal
    of an earlier job may touch the new file. The sandbox never sees it (outside the job folder).
    """
    folder = _private_gradebook_folder()
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    return folder / "gradebook.db"


def _private_gradebook_folder():
    return JOBS_ROOT / f"{os.getpid()}-gradebook-{threading.get_ident()}"  # swept with its process


def sweep(pids=None):
    """Remove the job folders of processes that no longer run (a killed worker's leftovers).

    Inputs:
    - pids: only these processes' folders (default: every process that is gone)
    """
    if not JOBS_ROOT.is_dir():
        return
    for path in JOBS_ROOT.iterdir():
        match = re.match(r"(\d+)-", path.name)
        if not match:
            continue
        pid = int(match.group(1))
        if (pids is None and not _alive(pid)) or (pids is not None and pid in pids):
            sandbox.release(path)
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------
# nbgrader


def _autograde(assignment_id, overrides):
    return course.nbgrader_api(overrides).autograde(assignment_id, PSEUDONYM, force=True, create=True)


def _failure_reason(result):
    """The error nbgrader reported, in one line (warnings are not reasons)."""
    lines = [line.replace("[ERROR]", "").strip()
             for line in (result.get("log") or "").splitlines() + (result.get("error") or "").splitlines()
             if "[WARNING]" not in line and "[INFO]" not in line]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception|Timeout)\w*: ", line)
              and not line.startswith(("nbgrader.converters.base.NbGraderException", "NbGraderException"))]
    if raised:
        return text.one_line(raised[-1], 240)
    errors = [line for line in lines if line and "Please see" not in line and "Traceback" not in line]
    return text.one_line(errors[0] if errors else "nbgrader autograde failed", 240)
