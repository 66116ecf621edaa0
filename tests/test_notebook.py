"""The notebooks run: the source top to bottom with full marks, the release failing loudly."""
import nbformat
import pytest
from nbclient import NotebookClient

from autograder import course
from conftest import REPO

ASSIGNMENT = course.assignment()
NAME = f"{ASSIGNMENT.notebooks[0]}.ipynb"


def execute(path):
    notebook = nbformat.read(str(path), as_version=4)
    NotebookClient(notebook, timeout=300, allow_errors=True, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return notebook


@pytest.fixture(scope="module")
def source_run():
    return execute(ASSIGNMENT.source_dir / NAME)


@pytest.fixture(scope="module")
def release_run():
    return execute(REPO / "release" / ASSIGNMENT.id / NAME)


def grade_id(cell):
    return cell.metadata.get("nbgrader", {}).get("grade_id", "")


def test_source_notebook_runs_top_to_bottom_without_errors(source_run):
    errors = [(grade_id(c) or c.source[:40], o.get("ename"), o.get("evalue"))
              for c in source_run.cells if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors


def test_source_solutions_earn_every_point_in_the_hidden_tests(source_run):
    for part in ASSIGNMENT.auto_parts:
        cell = next(c for c in source_run.cells if grade_id(c) == course.test_cell_id(part))
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        assert results and float(results[0].data["text/plain"]) == ASSIGNMENT.points[part], part
        assert not [o for o in cell.outputs if o.get("name") == "stderr"], f"stderr in {part}'s test cell"


def test_visible_checks_pass_on_the_solutions(source_run):
    """Every part's check (now in its test cell, where Validate sees it) passes on the solutions."""
    for part in ASSIGNMENT.auto_parts:
        cell = next(c for c in source_run.cells if grade_id(c) == course.test_cell_id(part))
        text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
        assert f"{part} passes the visible checks" in text, (part, text[-500:])


def test_untouched_release_fails_every_check_with_a_message_a_student_can_act_on(release_run):
    for part in ASSIGNMENT.auto_parts:
        cell = next(c for c in release_run.cells if grade_id(c) == course.test_cell_id(part))
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert errors, f"the check of {part} passes on an empty stub"
        assert errors[0].ename == "CheckFailed", f"{part}: {errors[0].ename} {errors[0].evalue}"
        assert len(errors[0].traceback) == 1, "a failed check shows its sentence, not a traceback"
        assert any(words in errors[0].evalue for words in ("not been written yet", "must be one of")), \
            errors[0].evalue
