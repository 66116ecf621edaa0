"""Grade a class: collect → grade (in workers) → record → export.

    python -m autograder.grade normalization --workers 2 [--students alice bob] [--sandbox off]

collect reads each submission folder into plain data (autograder.submission) and seeds its
tests (autograder.seeds); the workers grade each one in a sandbox with real nbgrader
autograde (autograder.job, run by autograder.workers); this process alone then records each
outcome in the course gradebook (autograder.records) and writes autograded/, feedback/ and
grades.csv (autograder.export). A submission that breaks anything gets a clear status and 0
for what it could not earn; it never stops the others.
"""
import argparse
import sys
import time
import traceback

from autograder import course, text


def make_tasks(assignment, students, sandboxed):
    """Collect every student's submission: (tasks, outcomes of those that cannot be graded,
    submissions by student)."""
    from autograder import job, records, seeds, submission

    secret = seeds.course_secret()
    tasks, unusable, collected = [], [], {}
    for student in students:
        found = submission.collect(student, assignment)
        collected[student] = found
        if found.problem:
            unusable.append(_as_dict(job.failed(student, found.problem, found.timestamp)))
            continue
        tasks.append(_as_dict(job.Task(
            student=student, assignment=assignment.id, notebook=found.notebook,
            seeds=seeds.submission_seeds(assignment, student, found.digest, secret),
            timestamp=found.timestamp, sandboxed=sandboxed,
            manual=records.manual_grades(course.gradebook_url(), assignment.id, student))))
    return tasks, unusable, collected


def _as_dict(value):
    from dataclasses import asdict

    return asdict(value)


def record(assignment, outcome, collected=None):
    """Write one Outcome dict into the course gradebook and the student's folders.

    Whatever goes wrong here costs this student alone: the submission is then recorded as
    failed (0 for every autograded part) and the traceback goes to the instructor's log.
    """
    from autograder import export, job, records

    submission = (collected or {}).get(outcome["student"])
    if submission is not None:
        outcome["notes"] = submission.notes + outcome.get("notes", [])
        outcome["flags"] = submission.flags + outcome.get("flags", [])
    try:
        records.write_record(course.gradebook_url(), assignment.id, outcome["student"], outcome["record"])
    except Exception:
        broken = _as_dict(job.failed(outcome["student"], "the grade could not be recorded (the instructor "
                                     "has the details)", log=outcome.get("log", "") + traceback.format_exc()))
        broken["notes"], broken["flags"] = outcome.get("notes", []), outcome.get("flags", [])
        outcome = broken
        try:
            records.write_record(course.gradebook_url(), assignment.id, outcome["student"], outcome["record"])
        except Exception:
            outcome["log"] += "\nwriting the failed record failed too:\n" + traceback.format_exc()
    try:
        export.write_student_files(assignment, outcome)
    except Exception:
        export.write_log(assignment, outcome["student"], outcome.get("log", "") + traceback.format_exc())
    return outcome


def grade_class(assignment_id=course.DEFAULT_ASSIGNMENT, students=None, workers=2, sandboxed=True,
                progress=True, job_timeout=None, scheduler=None):
    """Grade submissions, update the course gradebook, write results.json and grades.csv.

    Inputs:
    - workers: local worker processes (ignored with a scheduler)
    - scheduler: address of a Dask scheduler (tcp://HOST:PORT) to grade on its cluster

    Returns the list of Outcome dicts, in student order.
    """
    from autograder import export, release, submission, workers as pools

    assignment = course.assignment(assignment_id)
    found, refused = submission.discover(assignment)
    students = sorted(students) if students else found
    pools.prepare_process()
    release.ensure_gradebook(assignment, release.gradebook_template(assignment))
    tasks, unusable, collected = make_tasks(assignment, students, sandboxed)
    outcomes = {}
    bar = _progress(len(students), progress)

    def on_outcome(outcome):
        outcomes[outcome["student"]] = record(assignment, outcome, collected)
        bar.update(1)

    for outcome in unusable:
        on_outcome(outcome)
    if tasks:
        if scheduler:
            from autograder import cluster

            pool = cluster.DaskPool(scheduler)
        else:
            timeout = job_timeout or assignment.submission_timeout + pools.JOB_OVERHEAD
            pool = pools.LocalPool(min(workers, len(tasks)), job_timeout=timeout)
        try:
            pool.run(tasks, on_outcome)
        finally:
            pool.close()
    bar.close()
    export.write_grades_csv(assignment, refused=refused)
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
    parser.add_argument("--job-timeout", type=float, default=None)
    parser.add_argument("--scheduler", default=None,
                        help="grade on the Dask cluster of this scheduler (tcp://HOST:PORT)")
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
    assignment = course.assignment(args.assignment)
    outcomes = grade_class(args.assignment, args.students, args.workers, sandboxed,
                           progress=not args.quiet, job_timeout=args.job_timeout, scheduler=args.scheduler)
    print(export.summary_table(assignment, [o["student"] for o in outcomes]))
    where = f"on the cluster at {args.scheduler}" if args.scheduler else f"with {args.workers} worker(s)"
    print(f"graded {len(outcomes)} submission(s) in {time.monotonic() - started:.1f} s {where}; "
          f"grades in {text.one_line(course.GRADES_CSV.name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
