"""The student release and the gradebook's copy of the assignment.

    python -m autograder.release normalization      (make release)

`nbgrader generate_assignment` turns source/<id>/ into release/<id>/ and records the
assignment's cells (hidden tests included) in a gradebook. Grading needs those cells
twice: in the course gradebook, and in a fresh template gradebook that every graded
submission starts from.
"""
import shutil
import sys
import tempfile
from pathlib import Path

from autograder import course


def generate(assignment, db_url=None, release_dir=None):
    """Run nbgrader generate_assignment; optionally into another gradebook or folder."""
    overrides = {}
    if db_url:
        overrides["CourseDirectory.db_url"] = db_url
    if release_dir:
        overrides["CourseDirectory.release_directory"] = str(release_dir)
    result = course.nbgrader_api(overrides).generate_assignment(assignment.id, force=True, create=True)
    if not result["success"]:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{result.get('log', '')}\n"
                           f"{result.get('error', '')}")
    _set_due_date(assignment, db_url or f"sqlite:///{course.GRADEBOOK}")


def _set_due_date(assignment, db_url):
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment(assignment.id, duedate=parse_utc(assignment.due))


def ensure_gradebook(assignment):
    """Make sure the course gradebook knows the assignment (a fresh clone has no gradebook)."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(f"sqlite:///{course.GRADEBOOK}") as gb:
        try:
            gb.find_assignment(assignment.id)
            return
        except MissingEntry:
            pass
    with tempfile.TemporaryDirectory() as scratch:
        generate(assignment, release_dir=Path(scratch) / "release")


def gradebook_template(assignment):
    """A new SQLite gradebook holding only the assignment; returns its path (in a temp folder)."""
    folder = Path(tempfile.mkdtemp(prefix="normlab-template-"))
    folder.chmod(0o755)
    database = folder / "gradebook.db"
    generate(assignment, db_url=f"sqlite:///{database}", release_dir=folder / "release")
    shutil.rmtree(folder / "release", ignore_errors=True)
    return database


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    assignment = course.assignment(argv[0] if argv else course.DEFAULT_ASSIGNMENT)
    generate(assignment)
    print(f"release/{assignment.id}/ regenerated from source/{assignment.id}/")


if __name__ == "__main__":
    main()
