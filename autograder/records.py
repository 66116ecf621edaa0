"""Grading records: what one autograde run says about one submission.

Each submission is autograded into a private, throwaway gradebook; its record (plain
data) is then written into the course gradebook in one short transaction. The course
gradebook is only ever touched here, by one process, and only in the fields autograding
owns (auto scores, auto comments, timestamp, late penalty): manual grades survive, and a
failed run can never leave a stale score behind. (Grading on other machines goes through a Dask
cluster whose outcomes come back to the one grading command: autograder.cluster.)
"""
import contextlib
import fcntl
import random
import time
import warnings
from pathlib import Path

from nbgrader.api import BaseCell, Comment, Grade, Gradebook, MissingEntry
from sqlalchemy.exc import IntegrityError, OperationalError, SAWarning


def read_record(db_url, assignment_id, student_id):
    """Read the autograde results of one submission from a gradebook.

    Returns a dict: {"timestamp": str or None, "notebooks": {name: {"late_penalty": float,
    "grades": {grade_id: auto_score or None}, "comments": {grade_id: auto_comment}}}}.
    """
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment_id, student_id)
        record = {"timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                  "notebooks": {}}
        for notebook in submission.notebooks:
            record["notebooks"][notebook.name] = {
                "late_penalty": float(notebook.late_submission_penalty or 0.0),
                "grades": dict(by_cell(gb, Grade, Grade.auto_score, notebook)),
                "comments": dict(by_cell(gb, Comment, Comment.auto_comment, notebook)),
            }
    return record


def failed_record(timestamp=None, notebook=None, scores=None):
    """The record of a submission whose run broke: the given cells' scores ({grade_id: score},
    e.g. parts graded before the kernel died), 0 for every other autograded cell."""
    notebooks = {notebook: {"grades": dict(scores)}} if notebook and scores else {}
    return {"timestamp": timestamp, "notebooks": notebooks, "failed": True}


WRITE_ATTEMPTS = 6


def write_record(db_url, assignment_id, student_id, record):
    """Write a record into the course gradebook, creating the submission when needed.

    Cells the record does not mention score 0 when autograded, and wait for a grader when
    manually graded. Manual scores already given stay; such cells are marked for review.
    Another writer at the same moment (a second grading run, a grader saving a score in
    formgrader) makes the transaction start again, a few times, before it gives up.
    """
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return _write_record(db_url, assignment_id, student_id, record)
        except (IntegrityError, OperationalError):
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt * (1 + random.random()))


def _write_record(db_url, assignment_id, student_id, record):
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.simplefilter("ignore", SAWarning)  # nbgrader's add_submission trips them; harmless
        try:
            gb.find_student(student_id)
        except MissingEntry:
            gb.add_student(student_id)
        options = {"timestamp": record["timestamp"]} if record.get("timestamp") else {}
        submission = gb.update_or_create_submission(assignment_id, student_id, **options)
        for notebook in submission.notebooks:
            data = record["notebooks"].get(notebook.name, {})
            notebook.late_submission_penalty = data.get("late_penalty", 0.0)
            grades, comments = data.get("grades", {}), data.get("comments", {})
            manual = {cell.name for cell in notebook.notebook.solution_cells}
            for grade in notebook.grades:
                # PostgreSQL: lock the row, so that a manual score saved meanwhile is read, not lost
                gb.db.refresh(grade, with_for_update=not db_url.startswith("sqlite"))
                if grade.name in grades:
                    grade.auto_score = grades[grade.name]
                else:
                    grade.auto_score = None if grade.name in manual else 0.0
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                comment.auto_comment = comments.get(comment.name)
        gb.db.commit()


@contextlib.contextmanager
def gradebook_lock(db_url):
    """Hold the course gradebook for one grading command's set-up (creating its tables and the
    assignment), so that two commands starting at once do not both create them.

    SQLite: a lock file beside the database; PostgreSQL: an advisory lock of the server.
    """
    if db_url.startswith("sqlite"):
        path = Path(db_url.split("///", 1)[1] + ".lock")
        with open(path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            yield
        return
    import sqlalchemy

    engine = sqlalchemy.create_engine(db_url)
    try:
        with engine.connect() as connection:
            connection.execute(sqlalchemy.text("select pg_advisory_lock(20261218)"))
            try:
                yield
            finally:
                connection.execute(sqlalchemy.text("select pg_advisory_unlock(20261218)"))
    finally:
        engine.dispose()


def manual_grades(db_url, assignment_id, student_id):
    """What graders gave by hand so far: {grade_id: {"score": float or None, "comment": str or None}}.

    Empty when the student has no submission yet.
    """
    result = {}
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(assignment_id, student_id)
        except MissingEntry:
            return result
        for notebook in submission.notebooks:
            for name, score in by_cell(gb, Grade, Grade.manual_score, notebook):
                if score is not None:
                    result[name] = {"score": score, "comment": None}
            for name, comment in by_cell(gb, Comment, Comment.manual_comment, notebook):
                if comment:
                    result.setdefault(name, {"score": None})["comment"] = comment
    return result


def by_cell(gb, table, column, notebook):
    """[(cell name, column)] of a submitted notebook's grades or comments (table: Grade or
    Comment; column: one of its columns, a tuple of them for rows (name, *columns), or the table
    for its objects), in one query: reading each one's name through nbgrader's objects loads
    its cell on its own."""
    columns = column if isinstance(column, tuple) else (column,)
    return gb.db.query(BaseCell.name, *columns).join(table, table.cell_id == BaseCell.id) \
        .filter(table.notebook_id == notebook.id).all()


def apply_manual(db_url, assignment_id, student_id, manual):
    """Write hand-given scores and comments (from manual_grades) into a submission."""
    if not manual:
        return
    with Gradebook(db_url) as gb:
        submission = gb.find_submission(assignment_id, student_id)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                if grade.name in manual and manual[grade.name].get("score") is not None:
                    grade.manual_score = manual[grade.name]["score"]
            for comment in notebook.comments:
                if comment.name in manual and manual[comment.name].get("comment"):
                    comment.manual_comment = manual[comment.name]["comment"]
        gb.db.commit()
