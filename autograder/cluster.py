"""Grading on a Dask distributed cluster: `make grade SCHEDULER=tcp://HOST:PORT`.

The cluster is Dask's, not ours: workers are `dask worker` processes, each started with
`--nthreads 1` on a machine that holds a clone of the course at the same commit (dask-jobqueue
starts them on Slurm, dask-kubernetes on Kubernetes). Each submission travels with its task
(autograder.job.Task, plain data: the notebook's bytes and its seeds); its Outcome comes back to
the grading command, the one process that writes the gradebook.

A worker lost while grading (machine gone, process killed, out of memory) costs that attempt:
the submission is graded once more, then marked failed. It is never lost, and never recorded
twice: the grading command records the first outcome of each submission.
"""
import hashlib
import uuid
from pathlib import Path

from autograder import course, job, workers

ATTEMPTS = 2
# What grading depends on: two machines grade alike only when these files are the same.
FINGERPRINTED = ("nbgrader_config.py", "assignments", "source", "release", "autograder")


def fingerprint(root=None):
    """SHA-256 of every file grading depends on (the grader's code, the assignment, its release)."""
    root = Path(root or course.ROOT)
    digest = hashlib.sha256()
    for name in FINGERPRINTED:
        paths = [root / name] if (root / name).is_file() else sorted((root / name).rglob("*"))
        for path in paths:
            parts = path.relative_to(root).parts
            if path.is_file() and not any(p.startswith((".", "__pycache__")) or p == "corpus" for p in parts):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


_PREPARED = False


def grade_on_worker(task, expected_fingerprint, attempts_key):
    """Grade one task on a Dask worker; returns the Outcome dict (runs in the worker process)."""
    global _PREPARED
    from distributed import Variable, get_worker

    attempts = Variable(attempts_key)
    try:
        started = int(attempts.get(timeout="50ms"))
    except Exception:  # noqa: BLE001  (not set yet: the first attempt)
        started = 0
    attempts.set(started + 1)
    if started >= ATTEMPTS:
        return workers.lost(task, f"the grading worker was lost {ATTEMPTS} times while grading it")
    if get_worker().state.nthreads != 1:
        return workers.lost(task, "the Dask worker runs several threads: start workers with --nthreads 1")
    if fingerprint() != expected_fingerprint:
        return workers.lost(task, f"the worker's course copy ({course.ROOT}) differs from the grading command's: "
                                  "give every worker a clone at the same commit")
    if not _PREPARED:
        workers.prepare_process()
        _PREPARED = True
    return job.grade(task)


class DaskPool:
    """Grades tasks on the Dask cluster whose scheduler is at `address`.

    Inputs:
    - address: the scheduler, e.g. tcp://10.0.0.5:8786
    - sandboxed: whether the workers must be able to start the sandbox (checked on each)
    """

    def __init__(self, address, connect_timeout=30):
        from distributed import Client

        self.client = Client(address, timeout=connect_timeout)
        self.run_id = uuid.uuid4().hex[:12]

    def _submit(self, task, index, attempt, expected):
        key = f"normlab-{self.run_id}-{index}-{attempt}"
        return self.client.submit(grade_on_worker, task, expected, f"normlab-attempts-{self.run_id}-{index}",
                                  key=key, pure=False, retries=0)

    def run(self, tasks, on_outcome):
        """Grade every task; call on_outcome(outcome dict) in this process as each finishes."""
        from distributed import as_completed

        expected = fingerprint()
        pending = {}
        for index, task in enumerate(tasks):
            pending[self._submit(task, index, 1, expected)] = (index, task, 1)
        finished = as_completed(list(pending))
        for future in finished:
            index, task, attempt = pending.pop(future)
            try:
                outcome = future.result()
            except Exception as error:  # noqa: BLE001  (a lost worker: KilledWorker, a closed connection, ...)
                if attempt < ATTEMPTS:
                    retry = self._submit(task, index, attempt + 1, expected)
                    pending[retry] = (index, task, attempt + 1)
                    finished.add(retry)
                    continue
                outcome = workers.lost(task, f"grading on the cluster failed twice ({type(error).__name__})")
            on_outcome(outcome)

    def close(self):
        self.client.close()
