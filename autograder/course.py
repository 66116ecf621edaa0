"""The course: where things live and what the assignment manifest says.

Every other module asks this one for paths, points and seeds, so the layout and the
manifest (assignments/<id>.toml) are read in one place.
"""
import importlib.util
import os
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

# The course directory: this repository, or another copy of it named by NORMLAB_COURSE_ROOT
# (the test suite grades in temporary copies).
ROOT = Path(os.environ.get("NORMLAB_COURSE_ROOT") or Path(__file__).resolve().parent.parent).resolve()
ASSIGNMENTS = ROOT / "assignments"
SOURCE = ROOT / "source"
RELEASE = ROOT / "release"
SUBMITTED = ROOT / "submitted"
AUTOGRADED = ROOT / "autograded"
FEEDBACK = ROOT / "feedback"
GRADEBOOK = ROOT / "gradebook.db"
# The course gradebook: SQLite beside the course, or the database NORMLAB_DB_URL names
# (e.g. postgresql+psycopg2://user@host/course); nbgrader_config.py uses the same.
DB_URL_ENV = "NORMLAB_DB_URL"
GRADES_CSV = ROOT / "grades.csv"
COURSE_ID = "normlab"
DEFAULT_ASSIGNMENT = "normalization"


def gradebook_url():
    """The SQLAlchemy URL of the course gradebook."""
    return os.environ.get(DB_URL_ENV) or f"sqlite:///{GRADEBOOK}"


@dataclass(frozen=True)
class Assignment:
    """One assignment, as its manifest describes it."""

    id: str
    title: str
    notebooks: tuple
    due: str
    cell_timeout: int
    submission_timeout: int
    grading_seed: int
    experiment_seed: int
    points: dict
    manual_parts: tuple
    derived_parts: tuple = ()

    @property
    def parts(self):
        """Graded parts in manifest order (answer grade_ids and manual grade_ids)."""
        return list(self.points)

    @property
    def auto_parts(self):
        """Parts graded by a hidden test cell, in manifest order."""
        return [p for p in self.points if p not in self.manual_parts]

    @property
    def max_score(self):
        return float(sum(self.points.values()))

    @property
    def source_dir(self):
        return SOURCE / self.id

    @property
    def release_dir(self):
        return RELEASE / self.id


@cache
def assignment(assignment_id=DEFAULT_ASSIGNMENT):
    """Read assignments/<assignment_id>.toml into an Assignment."""
    path = ASSIGNMENTS / f"{assignment_id}.toml"
    data = tomllib.loads(path.read_text())
    if data["id"] != assignment_id:
        raise ValueError(f"{path} declares id {data['id']!r}, expected {assignment_id!r}")
    return Assignment(
        id=data["id"],
        title=data["title"],
        notebooks=tuple(data["notebooks"]),
        due=data["due"],
        cell_timeout=int(data["cell_timeout"]),
        submission_timeout=int(data["submission_timeout"]),
        grading_seed=int(data["seeds"]["grading"]),
        experiment_seed=int(data["seeds"]["experiment"]),
        points={k: float(v) for k, v in data["points"].items()},
        manual_parts=tuple(data.get("manual_parts", ())),
        derived_parts=tuple(data.get("derived_parts", ())),
    )


def assignment_ids():
    """Every assignment the course has, from the manifests."""
    return sorted(p.stem for p in ASSIGNMENTS.glob("*.toml"))


def test_cell_id(part):
    """The grade_id of the autograder test cell that grades an answer cell."""
    return f"test_{part}"


@cache
def support_module(name, assignment_id=DEFAULT_ASSIGNMENT):
    """Import a released support module (e.g. 'experiment') from source/, never from a
    student's folder: the grader trusts only the instructor's copy."""
    path = SOURCE / assignment_id / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"normlab_source_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nbgrader_api(overrides=None):
    """nbgrader's Python API configured by the course's nbgrader_config.py.

    Inputs:
    - overrides: optional {"Section.option": value} applied on top of the config file
    """
    from nbgrader.apps import NbGraderAPI
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    # nbgrader shells out to alembic, which lives beside this Python
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")

    config = PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()
    extra = Config()
    for dotted, value in (overrides or {}).items():
        section, key = dotted.rsplit(".", 1)
        extra[section][key] = value
    config.merge(extra)
    return NbGraderAPI(config=config)
