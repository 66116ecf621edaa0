"""`make demo`: the whole instructor loop on bundled example submissions.

Builds the release with nbgrader, writes the example students of autograder/corpus/examples
into submitted/ (perfect, blank, partly right, typical mistakes), grades them with the
class grading command, and prints the grade table. The examples are our own code, so the
demo may grade them without the sandbox where it cannot start (and says so).
"""
import argparse
import sys
import time

from autograder import corpus, course, export, grade, release, sandbox


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    assignment = course.assignment()

    started = time.monotonic()
    print(f"1. release: nbgrader generate_assignment {assignment.id} -> release/{assignment.id}/")
    release.build_release(assignment)

    examples = corpus.load("examples")
    print(f"2. submissions: {len(examples)} example students -> submitted/")
    for index, entry in enumerate(examples):
        corpus.write_submission(entry, course.SUBMITTED, timestamp=f"2026-12-1{index % 8} 18:0{index}:00 UTC")
        print(f"   {entry.name:<18} {entry.description.splitlines()[0][:70]}")

    sandboxed, reason = sandbox.available()
    if not sandboxed:
        print(f"   note: grading the bundled examples WITHOUT the sandbox ({reason}); "
              "real submissions need it (see README, Threat model)")
    print(f"3. grading with {args.workers} worker(s){' in the sandbox' if sandboxed else ''} ...")
    outcomes = grade.grade_class(assignment.id, [e.name for e in examples], args.workers, sandboxed)
    print()
    print(export.summary_table(assignment, [o["student"] for o in outcomes]))
    print()
    print(f"4. outputs: grades.csv, autograded/<student>/{assignment.id}/results.json, "
          f"feedback/<student>/{assignment.id}/{assignment.notebooks[0]}.html")
    print(f"demo finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
