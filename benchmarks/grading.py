"""How fast does a class grade? `make grade` against plain sequential `nbgrader autograde`.

    .venv/bin/python benchmarks/grading.py [--submissions 50] [--workers 2]

Builds N submissions from the demo examples in two temporary copies of the course,
grades one copy with `python -m autograder.grade --workers W` (sandboxed when the
sandbox can start) and the other with one plain `nbgrader autograde normalization`
(sequential, unsandboxed, hidden checks inside the kernel), and prints wall-clock
seconds, seconds per submission, and the speed-up. Prints numbers; asserts nothing.
"""
import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder import corpus, course, sandbox  # noqa: E402

COURSE_FILES = ("nbgrader_config.py", "assignments", "source", "release")


def make_course(root, submissions, kind="examples"):
    root.mkdir(parents=True)
    for name in COURSE_FILES:
        source = REPO / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, root / name)
    entries = itertools.cycle(corpus.load(kind))
    for index in range(submissions):
        entry = next(entries)
        corpus.write_submission(entry, root / "submitted", student=f"s{index:03d}-{entry.name}",
                                timestamp="2026-12-10 12:00:00 UTC")


def timed(args, root):
    env = dict(os.environ, NORMLAB_COURSE_ROOT=str(root),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    started = time.perf_counter()
    result = subprocess.run(args, cwd=root, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"{args[:4]} failed")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--submissions", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--skip-plain", action="store_true", help="only time make grade")
    parser.add_argument("--kind", default="examples", choices=corpus.KINDS, help="corpus to draw from")
    args = parser.parse_args()

    sandboxed = "on" if sandbox.available()[0] else "off"
    n = args.submissions
    with tempfile.TemporaryDirectory() as scratch:
        ours, plain = Path(scratch) / "ours", Path(scratch) / "plain"
        make_course(ours, n, args.kind)
        ours_seconds = timed([sys.executable, "-m", "autograder.grade", course.DEFAULT_ASSIGNMENT,
                              "--workers", str(args.workers), "--sandbox", sandboxed, "--quiet"], ours)
        print(f"make grade (WORKERS={args.workers}, sandbox {sandboxed}, feedback and exports included): "
              f"{ours_seconds:.1f} s for {n} submissions = {ours_seconds / n:.2f} s per submission")
        jobs = sorted(json.loads(p.read_text())["execution_time"]
                      for p in (ours / "autograded").glob("*/*/results.json"))
        print(f"  one submission, start to end in its worker: median {jobs[len(jobs) // 2]:.2f} s, "
              f"slowest {jobs[-1]:.2f} s")
        if args.skip_plain:
            return
        make_course(plain, n, args.kind)
        nbgrader = [str(Path(sys.executable).parent / "nbgrader")]
        setup = timed(nbgrader + ["generate_assignment", course.DEFAULT_ASSIGNMENT, "--force"], plain)
        plain_seconds = timed(nbgrader + ["autograde", course.DEFAULT_ASSIGNMENT, "--force"], plain)
        print(f"plain nbgrader autograde (sequential, unsandboxed, no feedback): {plain_seconds:.1f} s "
              f"= {plain_seconds / n:.2f} s per submission (generate_assignment before it: {setup:.1f} s)")
        print(f"speed-up: {plain_seconds / ours_seconds:.2f}x")


if __name__ == "__main__":
    main()
