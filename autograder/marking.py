"""What graders see beside each written answer: the model answer and mark scheme.

The source notebook keeps them inside the solution region of each written answer, so students
never get them. Every autograded notebook gets a copy right below the student's answer, in a
cell marked for graders only: formgrader shows it while grading by hand, and the feedback
leaves it out (autograder.feedback.HideGraderInternals).
"""
from functools import cache

import nbformat

from autograder import course

GRADERS_ONLY = "normlab_graders_only"  # cell metadata key of cells only graders see
HEADING = "**For graders only: model answer and mark scheme** (students do not see this cell)"


def _solution(source):
    """The text between the BEGIN SOLUTION and END SOLUTION lines of a cell."""
    lines = source.splitlines()
    inside = [i for i, line in enumerate(lines) if "BEGIN SOLUTION" in line or "END SOLUTION" in line]
    return "\n".join(lines[inside[0] + 1:inside[1]]).strip() if len(inside) >= 2 else source.strip()


@cache
def mark_schemes(assignment_id=course.DEFAULT_ASSIGNMENT):
    """{grade_id: model answer and mark scheme} of the written answers of the source notebook."""
    assignment = course.assignment(assignment_id)
    notebook = nbformat.read(str(assignment.source_dir / f"{assignment.notebooks[0]}.ipynb"), as_version=4)
    return {cell.metadata["nbgrader"]["grade_id"]: _solution(cell.source) for cell in notebook.cells
            if cell.metadata.get("nbgrader", {}).get("grade_id") in assignment.manual_parts}


def add_mark_schemes(notebook, assignment):
    """Put the mark scheme below each written answer of a notebook (in place); returns it."""
    schemes = mark_schemes(assignment.id)
    cells = []
    for cell in notebook.cells:
        if cell.get("metadata", {}).get(GRADERS_ONLY):
            continue  # never twice
        cells.append(cell)
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in schemes:
            scheme = nbformat.v4.new_markdown_cell(f"{HEADING}\n\n{schemes[grade_id]}")
            scheme.metadata[GRADERS_ONLY] = True
            cells.append(scheme)
    notebook.cells = cells
    return notebook
