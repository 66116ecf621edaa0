"""Grading records: what one autograde run says about one submission.

Each submission is autograded into a private, throwaway gradebook; its record (plain
data) is then written into the course gradebook in one short transaction. The course
gradebook is only ever touched here, by one process, and only in the fields autograding
owns (auto scores, auto comments, timestamp, late penalty): manual grades survive, and a
failed run can never leave a stale score behind. Records from other machines (shards)
merge the same way.
"""
import warnings

from nbgrader.api import Gradebook, MissingEntry
from sqlalchemy.exc import SAWarning


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
                "grades": {g.name: g.auto_score for g in notebook.grades},
                "comments": {c.name: c.auto_comment for c in notebook.comments},
            }
    return record


def failed_record(timestamp=None, notebook=None, scores=None):
    """The record of a submission whose run broke: the given cells' scores ({grade_id: score},
    e.g. parts graded before the kernel died), 0 for every other autograded cell."""
    notebooks = {notebook: {"grades": dict(scores)}} if notebook and scores else {}
    return {"timestamp": timestamp, "notebooks": notebooks, "failed": True}


def write_record(db_url, assignment_id, student_id, record):
    """Write a record into the course gradebook, creating the submission when needed.

    Cells the record does not mention score 0 when autograded, and wait for a grader when
    manually graded. Manual scores already given stay; such cells are marked for review.
    """
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
                if grade.name in grades:
                    grade.auto_score = grades[grade.name]
                else:
                    grade.auto_score = None if grade.name in manual else 0.0
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
            for comment in notebook.comments:
                comment.auto_comment = comments.get(comment.name)
        gb.db.commit()


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
            for grade in notebook.grades:
                if grade.manual_score is not None:
                    result[grade.name] = {"score": grade.manual_score, "comment": None}
            for comment in notebook.comments:
                if comment.manual_comment:
                    result.setdefault(comment.name, {"score": None})["comment"] = comment.manual_comment
    return result


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


def merge(shard_root, assignment_id=None):
    """Merge another machine's grading of some students (a shard) into this course.

    Inputs:
    - shard_root: the course folder a shard was graded in (its gradebook.db, autograded/, feedback/)

    Every submission of the assignment in the shard's gradebook becomes a record in this
    course's gradebook, and the shard's autograded/ and feedback/ folders of those students
    are copied here. Returns the student ids merged.
    """
    import shutil
    from pathlib import Path

    from autograder import course, release

    assignment = course.assignment(assignment_id or course.DEFAULT_ASSIGNMENT)
    release.ensure_gradebook(assignment, release.gradebook_template(assignment))
    shard_root = Path(shard_root)
    shard_db = f"sqlite:///{shard_root / 'gradebook.db'}"
    with Gradebook(shard_db) as gb:
        students = sorted(s.student.id for s in gb.find_assignment(assignment.id).submissions)
    for student in students:
        write_record(f"sqlite:///{course.GRADEBOOK}", assignment.id, student,
                     read_record(shard_db, assignment.id, student))
        for folder in (course.AUTOGRADED, course.FEEDBACK):
            source = shard_root / folder.name / student / assignment.id
            if source.is_dir():
                target = folder / student / assignment.id
                shutil.rmtree(target, ignore_errors=True)
                shutil.copytree(source, target, symlinks=True)
    return students


def main(argv=None):
    """python -m autograder.records merge <shard course folder> [...]"""
    import sys

    from autograder import course, export

    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2 or argv[0] != "merge":
        print(main.__doc__)
        return 2
    for shard in argv[1:]:
        merged = merge(shard)
        print(f"merged {len(merged)} submission(s) from {shard}")
    export.write_grades_csv(course.assignment())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
