"""How fast does a class grade? `make grade` locally and on a Dask cluster, against plain nbgrader.

    .venv/bin/python benchmarks/grading.py [--submissions 200] [--workers 2] [--skip-dask] [--skip-plain]

Builds N submissions from the demo examples (cycling through them) in temporary copies of the
course and grades them three ways, printing numbers and asserting nothing:

- local: `python -m autograder.grade --workers W` (sandboxed when the sandbox can start;
  feedback, results.json and grades.csv included)
- dask: the same command with `--scheduler`, on a local Dask cluster of W single-threaded
  workers (`dask worker --nthreads 1`)
- plain: one sequential `nbgrader autograde` then one `nbgrader generate_feedback`
  (unsandboxed, hidden checks inside the kernel): what nbgrader alone does

For each: wall-clock seconds, seconds per submission, p50/p95 of one submission's time in its
worker (results.json's execution_time), and the peak resident memory (VmHWM) of every grading
worker process and of the largest student kernel. Ends with an estimate for 10,000 submissions
on N machines like this one.
"""
import argparse
import itertools
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import corpus, course, sandbox  # noqa: E402

COURSE_FILES = ("nbgrader_config.py", "assignments", "source", "release")
BIN = Path(sys.executable).parent


def make_course(root, submissions, kind="examples"):
    """A copy of the course under root with N submissions drawn from a corpus."""
    root.mkdir(parents=True)
    for name in COURSE_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    entries = itertools.cycle(corpus.load(kind))
    for index in range(submissions):
        entry = next(entries)
        corpus.write_submission(entry, root / "submitted", student=f"s{index:04d}-{entry.name}",
                                timestamp="2026-12-10 12:00:00 UTC")


def course_env(root):
    return dict(os.environ, NORMLAB_COURSE_ROOT=str(root), PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")


class PeakMemory:
    """Polls /proc for the peak resident memory (VmHWM, MiB) of processes, by role.

    Inputs:
    - roles: function (pid, command line) -> role name, or None to ignore the process
    """

    def __init__(self, roles):
        self.roles, self.peaks, self.known = roles, {}, {}  # known: pid -> role (None: not ours)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _poll(self):
        while not self._stop.wait(0.25):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    pid = int(entry.name)
                    if pid not in self.known:  # the command line is read once per process
                        command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                        self.known[pid] = self.roles(pid, command) if command else None
                    role = self.known[pid]
                    if role is None:
                        continue
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        mib = int(line.split()[1]) / 1024
                        key = (role, int(entry.name))
                        self.peaks[key] = max(self.peaks.get(key, 0.0), mib)

    def report(self, role):
        values = sorted(v for (r, _), v in self.peaks.items() if r == role)
        if not values:
            return f"{role}: none seen"
        return f"{role}: {len(values)} process(es), peak {values[-1]:.0f} MiB (smallest peak {values[0]:.0f} MiB)"


def run(args, root, roles=None):
    """Run a command in the course copy; (seconds, PeakMemory or None)."""
    started = time.perf_counter()
    memory = PeakMemory(roles) if roles else None
    if memory:
        memory.__enter__()
    try:
        result = subprocess.run(args, cwd=root, env=course_env(root), capture_output=True, text=True)
    finally:
        if memory:
            memory.__exit__(None, None, None)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{args[:4]} failed")
    return seconds, memory


def latencies(root):
    """Sorted execution_time of every graded submission (seconds in its worker)."""
    return sorted(json.loads(p.read_text())["execution_time"] for p in (root / "autograded").glob("*/*/results.json"))


def percentile(values, q):
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def grading_roles(grade_marker):
    """Roles of the processes of one grading run: its workers (forked copies of the grading
    command, or `dask worker` processes) and the student kernels."""
    def role(pid, command):
        if "ipykernel_launcher" in command:
            return "student kernel"
        if "dask worker" in command or "dask-worker" in command:
            return "grading worker"
        if grade_marker in command and pid != os.getpid():
            return "grading command (main process and forked workers)"
        return None
    return role


def report(label, seconds, n, root, memory):
    times = latencies(root)
    print(f"{label}: {seconds:.1f} s for {n} submissions = {seconds / n:.2f} s per submission "
          f"({n / seconds:.2f} submissions/s)")
    print(f"  one submission in its worker: p50 {percentile(times, 0.5):.2f} s, p95 {percentile(times, 0.95):.2f} s, "
          f"slowest {times[-1]:.2f} s")
    for role in ("grading command (main process and forked workers)", "grading worker", "student kernel"):
        if any(r == role for r, _ in memory.peaks):
            print(f"  memory, {memory.report(role)}")


def python_loop_seconds():
    """Seconds for a plain Python loop of 10 million additions (best of 3): how fast this machine
    was during the run, to compare runs on shared or throttled machines."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(10_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dask_cluster(root, workers):
    """A local scheduler and `workers` single-threaded workers; (address, processes)."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    popen = dict(cwd=root, env=course_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                 start_new_session=True)
    processes = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                                   "--no-dashboard"], **popen)]
    processes += [subprocess.Popen([str(BIN / "dask"), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                    "--no-nanny", "--no-dashboard"], **popen) for _ in range(workers)]
    from distributed import Client

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with Client(address, timeout=10) as client:
                if len(client.scheduler_info()["workers"]) >= workers:
                    return address, processes
        except OSError:
            pass
        time.sleep(1)
    raise SystemExit("the Dask workers did not join")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-dask", action="store_true")
    parser.add_argument("--skip-plain", action="store_true")
    parser.add_argument("--kind", default="examples", choices=corpus.KINDS, help="corpus to draw from")
    args = parser.parse_args()

    sandboxed = "on" if sandbox.available()[0] else "off"
    n, w = args.submissions, args.workers
    grade = [sys.executable, "-m", "autograder.grade", course.DEFAULT_ASSIGNMENT, "--sandbox", sandboxed, "--quiet"]
    print(f"{n} submissions from the {args.kind} corpus; {os.cpu_count()} CPU(s); sandbox {sandboxed}; "
          f"this machine's speed: a 10-million-step Python loop takes {python_loop_seconds():.2f} s")
    rates = {}
    with tempfile.TemporaryDirectory() as scratch:
        local = Path(scratch) / "local"
        make_course(local, n, args.kind)
        seconds, memory = run(grade + ["--workers", str(w)], local, grading_roles("autograder.grade"))
        report(f"local, make grade WORKERS={w}", seconds, n, local, memory)
        rates["local"] = n / seconds
        local_seconds = seconds

        if not args.skip_dask:
            remote = Path(scratch) / "dask"
            make_course(remote, n, args.kind)
            address, processes = dask_cluster(remote, w)
            try:
                seconds, memory = run(grade + ["--scheduler", address], remote, grading_roles("autograder.grade"))
            finally:
                for process in processes:
                    process.kill()
                    process.wait()
            report(f"dask, {w} single-threaded workers on this machine", seconds, n, remote, memory)
            rates["dask"] = n / seconds
            same = (local / "grades.csv").read_bytes() == (remote / "grades.csv").read_bytes()
            print(f"  grades.csv byte-identical to the local run: {same}")

        if not args.skip_plain:
            plain = Path(scratch) / "plain"
            make_course(plain, n, args.kind)
            nbgrader = [str(BIN / "nbgrader")]
            run(nbgrader + ["generate_assignment", course.DEFAULT_ASSIGNMENT, "--force"], plain)
            autograde, _ = run(nbgrader + ["autograde", course.DEFAULT_ASSIGNMENT, "--force"], plain)
            feedback, _ = run(nbgrader + ["generate_feedback", course.DEFAULT_ASSIGNMENT, "--force"], plain)
            total = autograde + feedback
            print(f"plain nbgrader (sequential, unsandboxed): autograde {autograde:.1f} s + generate_feedback "
                  f"{feedback:.1f} s = {total:.1f} s = {total / n:.2f} s per submission")
            print(f"  speed-up of make grade WORKERS={w} over plain nbgrader: {total / local_seconds:.2f}x")

        writer = recording_rate(local)
        print(f"the one process that writes the gradebook (SQLite) records {writer:.1f} submissions/s")

    rate = rates.get("dask", rates["local"])
    print(f"estimate for 10,000 submissions: {rate:.2f} submissions/s per machine like this one ({w} workers), "
          f"linear in machines until the gradebook writer's {writer:.1f} submissions/s is the limit:")
    for machines in (1, 5, 10, 20, 50):
        throughput = min(rate * machines, writer)
        print(f"  {machines:3d} machine(s): {10_000 / throughput / 60:.0f} min"
              + ("  (writer-bound)" if rate * machines > writer else ""))


def recording_rate(root, count=40):
    """Submissions per second the grading command records (gradebook row, autograded/ and
    feedback/ files): one real outcome recorded again under `count` new student ids."""
    code = f"""
import copy, sys, time
from autograder import course, grade, job, seeds, submission
assignment = course.assignment()
student = sorted(p.name for p in course.SUBMITTED.iterdir())[0]
found = submission.collect(student, assignment)
outcome = job.grade(job.Task(student=student, assignment=assignment.id, notebook=found.notebook,
                             seeds=seeds.submission_seeds(assignment, student, found.digest, b"bench"),
                             sandboxed=False))
started = time.perf_counter()
for index in range({count}):
    copied = copy.deepcopy(outcome)
    copied["student"] = f"recorded-{{index:03d}}"
    grade.record(assignment, copied)
print({count} / (time.perf_counter() - started))
"""
    result = subprocess.run([sys.executable, "-c", code], cwd=root, env=course_env(root), capture_output=True,
                            text=True, check=True)
    return float(result.stdout.split()[-1])


if __name__ == "__main__":
    main()
