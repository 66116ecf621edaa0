"""The manifest and the source notebook describe the same assignment."""
import re

import nbformat

from autograder import course

ASSIGNMENT = course.assignment()
SOURCE = ASSIGNMENT.source_dir / f"{ASSIGNMENT.notebooks[0]}.ipynb"


def graded_cells():
    notebook = nbformat.read(str(SOURCE), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: c for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("grade")}


def test_every_listed_notebook_exists_in_source():
    for name in ASSIGNMENT.notebooks:
        assert (ASSIGNMENT.source_dir / f"{name}.ipynb").is_file()


def test_graded_cells_are_exactly_the_manifest_parts_with_their_points():
    cells = graded_cells()
    expected = {course.test_cell_id(p): p for p in ASSIGNMENT.auto_parts}
    expected.update({p: p for p in ASSIGNMENT.manual_parts})
    assert set(cells) == set(expected)
    for grade_id, part in expected.items():
        assert cells[grade_id].metadata["nbgrader"]["points"] == ASSIGNMENT.points[part], grade_id


def test_each_autograded_part_has_an_answer_cell_and_a_locked_test_cell_calling_its_check():
    notebook = nbformat.read(str(SOURCE), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"] for c in notebook.cells
               if c.metadata.get("nbgrader", {}).get("solution") and c.cell_type == "code"}
    cells = graded_cells()
    for part in ASSIGNMENT.auto_parts:
        assert (part in answers) != (part in ASSIGNMENT.derived_parts), f"answer cell of {part}"
        test = cells[course.test_cell_id(part)]
        assert test.metadata["nbgrader"]["locked"] and not test.metadata["nbgrader"]["solution"]
        hidden = test.source.split("### BEGIN HIDDEN TESTS")[1].split("### END HIDDEN TESTS")[0]
        assert f'grade_part("{part}", globals())' in hidden
        stated = re.search(r"([0-9.]+) points", test.source)
        assert stated and float(stated.group(1)) == ASSIGNMENT.points[part], \
            f"the visible comment of {test.metadata['nbgrader']['grade_id']} states other points"


def test_manual_parts_are_markdown_answers():
    cells = graded_cells()
    for part in ASSIGNMENT.manual_parts:
        meta = cells[part].metadata["nbgrader"]
        assert cells[part].cell_type == "markdown" and meta["solution"] and meta["grade"]


def test_every_autograded_part_has_hidden_checks():
    from autograder import checks

    assert set(ASSIGNMENT.auto_parts) <= set(checks.CHECKS)


def test_the_readme_points_table_is_the_manifest():
    import re

    from conftest import REPO

    readme = (REPO / "README.md").read_text()
    rows = dict(re.findall(r"^\| `(\w+)` \| .* \| (\d+) \|$", readme, flags=re.M))
    assert {part: float(points) for part, points in rows.items()} == ASSIGNMENT.points
    auto = sum(ASSIGNMENT.points[p] for p in ASSIGNMENT.auto_parts)
    assert f"{auto:g} autograded + {ASSIGNMENT.max_score - auto:g} by hand" in readme
    assert f"**{ASSIGNMENT.max_score:g}**" in readme
