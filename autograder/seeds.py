"""Seeds of the hidden tests: new for every submission, the same when it is graded again.

The inputs of every hidden test (and the replayed training run) are drawn from a seed that
is an HMAC of the course secret, the student, the part and the SHA-256 of the notebook the
student handed in. So inputs a notebook sees (and could print) say nothing about the inputs
of any other notebook, and re-grading the same file gives the same inputs and the same grade.

Seeds are computed in the grading command's process and sent to the checks; the student's
kernel never sees them, the secret or the student's id.
"""
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from autograder import course

SECRET_ENV = "NORMLAB_SECRET_FILE"


def secret_path():
    """Where the course secret lives: $NORMLAB_SECRET_FILE, else <course>/.secret/grading-key."""
    return Path(os.environ.get(SECRET_ENV) or course.ROOT / ".secret" / "grading-key")


def course_secret(path=None):
    """The course secret (bytes), created with 256 random bits on first use (mode 0600)."""
    path = Path(path or secret_path())
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            with open(path, "x") as handle:
                os.fchmod(handle.fileno(), 0o600)
                handle.write(secrets.token_hex(32) + "\n")
        except FileExistsError:
            pass  # another process created it first
    key = path.read_text().strip()
    if len(key) < 32:
        raise RuntimeError(f"the course secret {path} is too short; delete it to create a new one")
    return key.encode()


def submission_seeds(assignment, student, digest, secret):
    """Seeds of one submission: {part: int} for every autograded part (batchsize_training's
    seeds the replayed training run).

    Inputs:
    - assignment: the course.Assignment
    - student: the student id
    - digest: hex SHA-256 of the submitted notebook's bytes
    - secret: the course secret (bytes)
    """
    def seed(part):
        message = f"{assignment.grading_seed}\0{assignment.id}\0{student}\0{part}\0{digest}".encode()
        return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "little")

    return {part: seed(part) for part in assignment.auto_parts}
