"""Collect: what a student handed in, read as data and nothing else.

    submitted/<student>/<assignment>/<notebook>.ipynb   (+ an optional timestamp.txt)

Only the notebook is kept, as bytes: other files in the folder are never copied, imported
or executed (the support files come from the release), and a folder the grader cannot use
is refused with a reason the student can act on. Everything here runs in the grading
command's own process, so it only reads files.
"""
import hashlib
import re
from dataclasses import dataclass, field

from autograder import course, text

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_ID_CHARS = 128
# Characters that nbgrader's own commands treat as glob patterns in paths.
GLOB_CHARACTERS = set("*?[]")
# Formgrader writes student ids into its pages unescaped (HTML text, attributes and a JavaScript
# string), after decoding them from its URLs: an id holding one of these would be markup or
# script in the instructor's browser (% would be decoded into them; # breaks its links).
MARKUP_CHARACTERS = set('<>&"`\\%#')


@dataclass
class Submission:
    """One student's submission of one assignment, as plain data.

    - notebook: the bytes of the notebook handed in (None when there is nothing to grade)
    - problem: why it cannot be graded at all ('' when it can)
    - timestamp: the submission time from timestamp.txt, normalised to ISO format (None: no
      time given, or one that does not parse; the latter is noted and flagged)
    """

    student: str
    assignment: str
    notebook: bytes = None
    problem: str = ""
    timestamp: str = None
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)

    @property
    def digest(self):
        """SHA-256 of the notebook's bytes: the submission's identity for seeding the tests."""
        return hashlib.sha256(self.notebook or b"").hexdigest()


def student_id_problem(student):
    """Why a folder name cannot be a student id ('' when it can).

    Any printable name is accepted (spreadsheet formulas are neutralised on export); control
    characters, glob characters (which nbgrader's own commands would expand), markup characters
    (which formgrader's pages would run) and very long names are refused.
    """
    if not student or student != student.strip():
        return "the folder name is empty or starts or ends with a space"
    if len(student) > MAX_ID_CHARS:
        return f"the folder name is longer than {MAX_ID_CHARS} characters"
    if text.one_line(student, MAX_ID_CHARS + 1) != student:
        return "the folder name contains control or invisible characters"
    if GLOB_CHARACTERS & set(student):
        return "the folder name contains one of * ? [ ], which nbgrader reads as a file pattern"
    if MARKUP_CHARACTERS & set(student):
        return ("the folder name contains one of < > & \" ` \\ % #, which formgrader's pages would read as HTML, "
                "script or a URL escape")
    return ""


def discover(assignment):
    """Student folders under submitted/ that hold this assignment, in sorted order.

    Returns (students, refused): ids to grade, and {folder name: reason} for folders whose
    name cannot be a student id.
    """
    if not course.SUBMITTED.is_dir():
        return [], {}
    students, refused = [], {}
    for path in sorted(course.SUBMITTED.iterdir()):
        if path.name.startswith(".") or path.is_symlink() or not (path / assignment.id).is_dir():
            continue
        problem = student_id_problem(path.name)
        if problem:
            refused[path.name] = problem
        else:
            students.append(path.name)
    return students, refused


def collect(student, assignment):
    """Read one submission folder into a Submission (never raises for what a student did)."""
    submission = Submission(student=student, assignment=assignment.id)
    folder = course.SUBMITTED / student / assignment.id
    if folder.is_symlink() or folder.parent.is_symlink() or not folder.is_dir():
        submission.problem = f"no folder submitted/{student}/{assignment.id}"
        return submission
    submission.timestamp = _timestamp(folder / "timestamp.txt", submission)
    path = _notebook_path(folder, assignment, submission)
    if path is None:
        return submission
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        submission.problem = (f"{path.name} is {size / 2**20:.1f} MB; notebooks up to "
                              f"{MAX_NOTEBOOK_BYTES >> 20} MB are graded (clear large outputs and save again)")
        return submission
    submission.notebook = path.read_bytes()
    if not submission.notebook.strip():
        submission.problem = f"{path.name} is an empty file"
        submission.notebook = None
        return submission
    others = [p.name for p in folder.iterdir() if p != path and p.name not in ("timestamp.txt",)
              and not p.name.startswith(".")]
    if others:
        submission.notes.append(
            f"only {path.name} is graded; {len(others)} other file(s) in the folder were not used "
            "(the support files come from the release)")
    return submission


def _notebook_path(folder, assignment, submission):
    """The notebook to grade: the released name, or the only other notebook in the folder."""
    name = f"{assignment.notebooks[0]}.ipynb"
    expected = folder / name
    if expected.is_file() and not expected.is_symlink():
        return expected
    others = sorted(p for p in folder.glob("*.ipynb") if p.is_file() and not p.is_symlink())
    if len(others) == 1:
        submission.notes.append(f"graded {text.one_line(others[0].name, 80)} as {name} "
                                "(please keep the released name)")
        return others[0]
    found = ", ".join(text.one_line(p.name, 60) for p in others[:5]) or "no notebook"
    submission.problem = f"{name} is missing (found {found})"
    return None


def _timestamp(path, submission):
    """The time in timestamp.txt as an ISO string; None when absent or unreadable (flagged)."""
    from nbgrader.utils import parse_utc

    if path.is_symlink() or (path.exists() and not path.is_file()):
        submission.flags.append("timestamp.txt is not a regular file: the submission was recorded "
                                "without a submission time")
        return None
    if not path.exists():
        return None
    try:
        raw = path.read_bytes()[:200].decode("utf-8").strip()
        if not re.fullmatch(r"[0-9][0-9 :.+TZUC-]{5,60}", raw):
            raise ValueError("not a date")
        return parse_utc(raw).isoformat()
    except Exception:
        shown = text.short_repr(path.read_bytes()[:60].decode("utf-8", "replace").strip(), 40)
        submission.flags.append(f"timestamp.txt does not hold a date ({shown}): the submission "
                                "was recorded without a submission time")
        return None
