"""Damaged notebooks at scale: thousands of seeded structural and content mutations through `make grade`.

    .venv/bin/python benchmarks/fuzz.py [--count 2000] [--workers 2] [--seed 20261130]

The slow sibling of tests/test_fuzz.py (which grades 100): 80 % mutations of the perfect
submission, 20 % of the blank release (1 to 3 operators of autograder/corpus/fuzz.py each),
plus the two unmodified bases, graded by `python -m autograder.grade` in a temporary copy of
the course. Prints counts, asserts nothing:

- rows in grades.csv, and statuses by kind (graded, repaired, flagged, failed: reason)
- structural-only mutations of the perfect submission that lost marks (should be 0)
- mutations of the blank release that earned marks (should be 0)
- scores out of range, and feedback pages that show the grader's internals (should be 0)
"""
import argparse
import collections
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import nbformat  # noqa: E402

from autograder import corpus, course  # noqa: E402
from autograder.corpus import fuzz, hostile  # noqa: E402
from grading import make_course, run  # noqa: E402

ASSIGNMENT = course.assignment()
NOTEBOOK = f"{ASSIGNMENT.notebooks[0]}.ipynb"
# the grader's own internals in a student's file (test_fuzz's markers); a Python traceback of the
# student's own code (a blank answer raising in the student's cell) is theirs to see, counted apart
GRADER_MARKERS = ("autograder/", "normlab-jobs", "site-packages", "nbgrader.converters")


def cases(count, seed):
    """{student: (bytes, structural, base)} for count mutations and the two bases."""
    perfect = nbformat.writes(corpus.notebook(hostile.PERFECT)).encode()
    blank = (ASSIGNMENT.release_dir / NOTEBOOK).read_bytes()
    found = {"base-perfect": (perfect, True, "perfect"), "base-blank": (blank, True, "blank")}
    perfect_count = count * 4 // 5
    for base, name, n in ((perfect, "perfect", perfect_count), (blank, "blank", count - perfect_count)):
        for index, mutation in enumerate(fuzz.mutations(seed + len(name), base, n)):
            found[f"{name}-{index:04d}"] = (mutation.data, mutation.structural, name)
    return found


def status_kind(status):
    if status.startswith("failed"):
        return status[:90]
    return status.split(":", 1)[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20261130)
    args = parser.parse_args()

    mutations = cases(args.count, args.seed)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "course"
        make_course(root, 0)
        for student, (data, _, _) in mutations.items():
            folder = root / "submitted" / student / ASSIGNMENT.id
            folder.mkdir(parents=True)
            (folder / NOTEBOOK).write_bytes(data)
        started = time.perf_counter()
        seconds, _ = run([sys.executable, "-m", "autograder.grade", ASSIGNMENT.id, "--workers", str(args.workers),
                          "--quiet"], root)
        with open(root / course.GRADES_CSV.name, newline="") as handle:
            rows = {row["student_id"]: row for row in csv.DictReader(handle)}
        full = {part: ASSIGNMENT.points[part] for part in ASSIGNMENT.auto_parts}
        kinds = collections.Counter(status_kind(row["status"]) for row in rows.values())
        lost = [s for s, (_, structural, base) in mutations.items() if structural and base == "perfect"
                and {p: float(rows[s][p] or 0) for p in full} != full]
        earned = [s for s, (_, _, base) in mutations.items() if base == "blank" and float(rows[s]["raw_score"]) > 0]
        out_of_range = [s for s, row in rows.items() if not 0 <= float(row["raw_score"]) <= ASSIGNMENT.max_score]
        pages = {path.parts[-3]: path.read_text(errors="replace") for path in (root / "feedback").rglob("*.html")}
        leaked = sorted(s for s, page in pages.items() if any(m in page for m in GRADER_MARKERS))
        own = sorted(s for s, page in pages.items() if "Traceback (most recent call last)" in page)
        structural = sum(1 for _, s, b in mutations.values() if s and b == "perfect")
        internal = sum(1 for row in rows.values() if "internal grader error" in row["status"])

    print(f"{len(mutations)} notebooks ({args.count} mutated, seed {args.seed}) graded in {seconds:.0f} s "
          f"({seconds / len(mutations):.2f} s each, {args.workers} workers); wall {time.perf_counter() - started:.0f} s")
    print(f"rows in grades.csv: {len(rows)} of {len(mutations)}")
    for kind, n in kinds.most_common():
        print(f"  {n:5d}  {kind}")
    print(f"structural-only mutations of the perfect submission: {structural}; lost marks: {len(lost)} {lost[:10]}")
    print(f"mutations of the blank release that earned marks: {len(earned)} {earned[:10]}")
    print(f"scores out of range: {len(out_of_range)}; internal grader errors: {internal}; "
          f"feedback pages showing the grader's internals: {len(leaked)} {leaked[:10]}; "
          f"showing a traceback of the student's own code: {len(own)}")
    print(json.dumps({"rows": len(rows), "lost": len(lost), "earned": len(earned), "out_of_range": len(out_of_range),
                      "internal": internal, "leaked": len(leaked)}))


if __name__ == "__main__":
    main()
