"""The student release and the gradebook's copy of the assignment.

    python -m autograder.release normalization      (make release)

`nbgrader generate_assignment` turns source/<id>/ into release/<id>/ and records the
assignment's cells (hidden tests included) in a gradebook. Grading needs those cells
twice: in the course gradebook, and in a fresh template gradebook that every graded
submission starts from.
"""
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from autograder import course

TEMPLATE_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "normlab" / "templates"


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
    _set_due_date(assignment, db_url or course.gradebook_url())


def _set_due_date(assignment, db_url):
    from nbgrader.api import Gradebook
    from nbgrader.utils import parse_utc

    with Gradebook(db_url) as gb:
        gb.update_or_create_assignment(assignment.id, duedate=parse_utc(assignment.due))


def build_release(assignment):
    """Regenerate release/<id>/ from source/<id>/ (in a scratch course, then copied in place).

    nbgrader deletes the release folder when generation fails, and refuses to change cells once
    the course gradebook has submissions; generating into scratch space avoids both.
    """
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        generate(assignment, db_url=f"sqlite:///{scratch / 'gradebook.db'}", release_dir=scratch / "release")
        target = assignment.release_dir
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(scratch / "release" / assignment.id, target)


def _cells(db_url, assignment):
    """{(notebook, grade_id): max_score} of the assignment's graded cells in a gradebook."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(db_url) as gb:
        try:
            record = gb.find_assignment(assignment.id)
        except MissingEntry:
            return None
        return {(nb.name, cell.name): cell.max_score for nb in record.notebooks for cell in nb.grade_cells}


def ensure_gradebook(assignment, template_db):
    """Make the course gradebook hold the assignment exactly as source/ defines it.

    A fresh clone has no gradebook: a SQLite one starts as a copy of the template, a PostgreSQL
    one gets its tables and the assignment from nbgrader generate_assignment. If source/ changed
    its graded cells since, the gradebook follows, unless students have already submitted (then
    nbgrader cannot change cells, and grading stops with a clear message). Grading commands that
    start at once take turns here (records.gradebook_lock).
    """
    from nbgrader.api import Gradebook

    from autograder import records

    course_db = course.gradebook_url()
    with records.gradebook_lock(course_db):
        if course_db.startswith("sqlite") and not course.GRADEBOOK.exists():
            shutil.copyfile(template_db, course.GRADEBOOK)
            return
        wanted = _cells(f"sqlite:///{template_db}", assignment)
        current = _cells(course_db, assignment)
        if current == wanted:
            _set_due_date(assignment, course_db)
            return
        with Gradebook(course_db) as gb:
            try:
                submitted = len(gb.find_assignment(assignment.id).submissions)
            except Exception:
                submitted = 0
        if submitted:
            raise RuntimeError(
                f"source/{assignment.id} changed its graded cells after {submitted} submission(s) were "
                "recorded in the gradebook; nbgrader cannot change cells of a collected assignment. Restore "
                "the cells, or start a new gradebook for the changed assignment.")
        with tempfile.TemporaryDirectory() as scratch:
            generate(assignment, db_url=course_db, release_dir=Path(scratch) / "release")


def gradebook_template(assignment):
    """A SQLite gradebook holding only the assignment, as nbgrader generate_assignment makes it.

    Templates are kept in a cache folder under a hash of everything they depend on (nbgrader's
    version, the source notebooks, the config, the manifest), so a template is generated once
    per change of the assignment, not once per grading run. Returns the path of the file;
    callers copy it and never modify it.
    """
    import nbgrader

    digest = hashlib.sha256(nbgrader.__version__.encode())
    inputs = [course.ROOT / "nbgrader_config.py", course.ASSIGNMENTS / f"{assignment.id}.toml"]
    inputs += sorted(assignment.source_dir.glob("*.ipynb"))
    for path in inputs:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    cached = TEMPLATE_CACHE / f"{assignment.id}-{digest.hexdigest()[:24]}.db"
    if cached.exists():
        return cached
    TEMPLATE_CACHE.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=TEMPLATE_CACHE) as scratch:
        database = Path(scratch) / "gradebook.db"
        generate(assignment, db_url=f"sqlite:///{database}", release_dir=Path(scratch) / "release")
        database.chmod(0o644)
        os.replace(database, cached)
    return cached


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    assignment = course.assignment(argv[0] if argv else course.DEFAULT_ASSIGNMENT)
    build_release(assignment)
    print(f"release/{assignment.id}/ regenerated from source/{assignment.id}/")


if __name__ == "__main__":
    main()
