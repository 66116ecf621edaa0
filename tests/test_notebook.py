"""The notebooks run: the source top to bottom with full marks, the release failing loudly."""
import re

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
        lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in errors[0].traceback]
        # its sentence (in lines of at most 78 characters), not a traceback
        assert lines[0].startswith(f"Check of {part} failed:"), lines
        assert " ".join(lines) == f"Check of {part} failed: {' '.join(errors[0].evalue.split())}", lines
        assert all(len(line) <= 78 for line in lines), lines
        assert any(words in errors[0].evalue for words in ("not been written yet", "must be one of")), \
            errors[0].evalue


def test_nbgrader_validate_shows_the_whole_sentence_that_names_a_mistake(tmp_path):
    """`nbgrader validate` (and the Validate button) cut report lines at 90 characters: a check's
    message comes in lines short enough that the named mistake is read in full."""
    import shutil
    import subprocess

    from autograder import corpus

    folder = tmp_path / ASSIGNMENT.id
    shutil.copytree(REPO / "release" / ASSIGNMENT.id, folder)
    entry = corpus.load("wrong", ["bn_unbiased_variance"])[0]
    nbformat.write(corpus.notebook(entry), str(folder / NAME))
    result = subprocess.run([str(REPO / ".venv" / "bin" / "nbgrader"), "validate", NAME], cwd=folder,
                            capture_output=True, text=True, timeout=600)
    report = " ".join(result.stdout.split())
    assert "Check of batchnorm_forward failed:" in report, result.stdout[-3000:]
    assert "It matches the unbiased variance (dividing by N-1); divide by N" in report, result.stdout[-3000:]
