"""Where jobs run: local worker processes (this module), or a Dask cluster (autograder.cluster).

Both take Task dicts and hand back Outcome dicts (autograder.job), one per task, whatever
happens to the process that ran it: a job that runs too long or a worker that dies gives
that student a `failed: ...` outcome, and its job folder is removed.
"""
import multiprocessing
import multiprocessing.connection
import os
import time
from dataclasses import asdict

from autograder import course, job

# Beyond the notebook's own time budget (the manifest's submission_timeout): kernel start, nbgrader,
# feedback. A job still running after both is stopped by replacing its worker.
JOB_OVERHEAD = 120.0


def prepare_process():
    """What every grading process needs, done once (before local workers fork from it)."""
    import warnings

    import nbgrader.apps  # noqa: F401  (importing nbgrader is the expensive part)
    import numpy  # noqa: F401  (loads the BLAS library that threadpool_limits sets)
    from sqlalchemy.exc import SAWarning
    from threadpoolctl import threadpool_limits

    # One BLAS thread: a grading process shares the cores with student kernels, and OpenBLAS's
    # extra threads spin after each product (measured: 0.2-0.3 s of CPU per submission).
    threadpool_limits(1)

    # nbgrader's gradebook code trips SQLAlchemy 2's autoflush warnings; they are harmless noise
    warnings.filterwarnings("ignore", category=SAWarning)

    from autograder import checks, reuse, sandbox

    reuse.share_engines()
    reuse.share_metadata_validators()
    reuse.check_tables_at_once()
    checks.warm_up()
    sandbox.matplotlib_cache()


def _worker(connection):
    """A long-lived grading process: grades what it is sent, one submission at a time."""
    prepare_process()  # nothing left to do after a fork; a spawned worker imports here
    os.chdir(course.ROOT)
    while True:
        task = connection.recv()
        if task is None:
            return
        connection.send(job.grade(task))


def lost(task, reason):
    """The Outcome dict of a task whose process was lost."""
    return asdict(job.failed(task["student"], reason, task.get("timestamp")))


class LocalPool:
    """n worker processes on this machine; a job that runs too long costs its worker, which is
    replaced."""

    def __init__(self, workers, job_timeout):
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
        """Grade every task; call on_outcome(outcome dict) in this process as each finishes."""
        pending = list(tasks)
        for worker in self.slots:
            self._give(worker, pending)
        while any(w["task"] for w in self.slots):
            busy = [w["pipe"] for w in self.slots if w["task"]]
            ready = multiprocessing.connection.wait(busy, timeout=1.0)
            for worker in self.slots:
                if worker["task"] is None:
                    continue
                outcome = self._poll(worker, ready)
                if outcome is not None:
                    worker["task"] = None
                    self._give(worker, pending)  # its next job starts while this process records the last
                    on_outcome(outcome)

    def _give(self, worker, pending):
        """Send the worker the next pending task, if any."""
        if not pending:
            return
        worker["task"], worker["since"] = pending.pop(0), time.monotonic()
        try:
            worker["pipe"].send(worker["task"])
        except (OSError, ValueError):  # the worker died before taking work: noticed by _poll
            pass

    def _poll(self, worker, ready):
        """The worker's outcome if it has one (or lost its task), else None."""
        task = worker["task"]
        if worker["pipe"] in ready:
            try:
                return worker["pipe"].recv()
            except (EOFError, OSError):
                self._replace(worker)
                return lost(task, "the grading process crashed")
        if time.monotonic() - worker["since"] > self.job_timeout:
            self._replace(worker)
            return lost(task, f"grading took longer than {self.job_timeout:g} s")
        if not worker["process"].is_alive():
            self._replace(worker)
            return lost(task, "the grading process crashed")
        return None

    def _replace(self, worker):
        worker["process"].kill()
        worker["process"].join()
        job.sweep({worker["process"].pid})
        worker.update(self._start())

    def close(self):
        for worker in self.slots:
            try:
                worker["pipe"].send(None)
            except (OSError, ValueError):
                pass
        for worker in self.slots:
            worker["process"].join(timeout=10)
            if worker["process"].is_alive():
                worker["process"].kill()
                worker["process"].join()
            job.sweep({worker["process"].pid})
