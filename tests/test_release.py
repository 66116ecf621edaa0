"""release/ is what nbgrader makes of source/, with nothing of the instructor's in it."""
import inspect
import json
import sys

import nbformat
import pytest

from autograder import course, reference
from conftest import Course, REPO

ASSIGNMENT = course.assignment()
NAME = f"{ASSIGNMENT.notebooks[0]}.ipynb"
VOLATILE_NOTEBOOK_METADATA = ("widgets",)


def comparable(path):
    """A notebook's content without metadata that differs between identical runs."""
    notebook = json.loads(path.read_text())
    for key in VOLATILE_NOTEBOOK_METADATA:
        notebook["metadata"].pop(key, None)
    for cell in notebook["cells"]:
        cell.pop("execution_count", None)
        cell.pop("outputs", None)
    return notebook


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    """release/ regenerated from source/ in a temporary copy of the course."""
    copy = Course(tmp_path_factory.mktemp("release") / "course")
    copy.run(sys.executable, "-m", "autograder.release", ASSIGNMENT.id)
    return copy.root / "release" / ASSIGNMENT.id


def test_committed_release_matches_a_fresh_generate_assignment(regenerated):
    committed = REPO / "release" / ASSIGNMENT.id
    assert sorted(p.name for p in committed.iterdir()) == sorted(p.name for p in regenerated.iterdir())
    for path in committed.iterdir():
        if path.suffix == ".ipynb":
            assert comparable(path) == comparable(regenerated / path.name), \
                f"release/{ASSIGNMENT.id}/{path.name} is stale: run `make release` and commit it"
        else:
            assert path.read_bytes() == (regenerated / path.name).read_bytes(), f"{path.name} is stale"


def test_release_holds_only_the_notebook_and_the_student_support_files():
    """source/ holds the notebook and what students get (support modules, data); the instructor's
    material lives in autograder/, so nothing else can reach release/."""
    support = {p.name for p in ASSIGNMENT.source_dir.iterdir() if p.suffix != ".ipynb"}
    assert all(name.endswith((".py", ".npz")) for name in support), support
    released = {p.name for p in (REPO / "release" / ASSIGNMENT.id).iterdir()}
    assert released == {f"{n}.ipynb" for n in ASSIGNMENT.notebooks} | support


def solution_lines():
    """Distinctive lines of the reference solutions (inside the solution markers)."""
    lines, inside = set(), False
    for line in inspect.getsource(reference).splitlines():
        if "### BEGIN SOLUTION" in line:
            inside = True
        elif "### END SOLUTION" in line:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.add(line.strip())
    return lines


def test_release_contains_no_solution_code_no_hidden_tests_and_no_grader_imports():
    text = "\n".join(c.source for c in nbformat.read(str(REPO / "release" / ASSIGNMENT.id / NAME), 4).cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "grade_part", "autograder",
                   "Mark scheme", "Model answer"):
        assert marker not in text, f"{marker!r} leaked into the release"
    leaked = [line for line in solution_lines() if line in text]
    assert not leaked, f"solution lines in the release: {leaked[:3]}"
    for support in (REPO / "release" / ASSIGNMENT.id).glob("*.py"):
        assert "autograder" not in support.read_text(), f"{support.name} mentions the grader"


def test_solution_cells_are_the_reference_implementations():
    """One source of truth: each function's answer cell is autograder.reference's source."""
    notebook = nbformat.read(str(ASSIGNMENT.source_dir / NAME), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    for name in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
                 "layernorm_forward", "layernorm_backward"):
        expected = inspect.getsource(getattr(reference, name)).rstrip("\n")
        assert answers[name] == expected, (
            f"the answer cell {name} differs from autograder/reference.py: "
            "run `python -m autograder.authoring sync` to copy the reference into the notebook")


def test_release_stubs_keep_the_signatures_and_preset_outputs():
    notebook = nbformat.read(str(REPO / "release" / ASSIGNMENT.id / NAME), as_version=4)
    stubs = {c.metadata["nbgrader"]["grade_id"]: c.source for c in notebook.cells
             if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    for name in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
                 "layernorm_forward", "layernorm_backward"):
        signature = str(inspect.signature(getattr(reference, name)))
        assert f"def {name}{signature}:" in stubs[name]
        assert "# YOUR CODE HERE" in stubs[name]
        assert "= None, None" in stubs[name]
