"""Authoring: keep the source notebook's solution cells and the visible checks' table equal to
what autograder.reference and autograder.checks.mistakes give.

    python -m autograder.authoring sync     # copy the reference functions into the notebook and
                                            # rewrite visible_checks.npz (autograder.visible)
    python -m autograder.authoring check    # exit 1 and name what differs

The reference implementations live once, in autograder/reference.py (with their
nbgrader solution markers); edit them there, then sync, then `make release`.
"""
import inspect
import sys

import nbformat

from autograder import course, reference

FUNCTIONS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
             "layernorm_forward", "layernorm_backward")


def _notebook_path(assignment):
    return assignment.source_dir / f"{assignment.notebooks[0]}.ipynb"


def differences(assignment=None):
    """Names of functions whose answer cell differs from the reference source."""
    assignment = assignment or course.assignment()
    notebook = nbformat.read(str(_notebook_path(assignment)), as_version=4)
    cells = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in notebook.cells}
    return [name for name in FUNCTIONS
            if name not in cells or cells[name].source != inspect.getsource(getattr(reference, name)).rstrip("\n")]


def sync(assignment=None):
    """Write the reference source into the answer cells; returns the names changed."""
    assignment = assignment or course.assignment()
    path = _notebook_path(assignment)
    notebook = nbformat.read(str(path), as_version=4)
    changed = []
    for cell in notebook.cells:
        name = cell.metadata.get("nbgrader", {}).get("grade_id")
        if name in FUNCTIONS:
            source = inspect.getsource(getattr(reference, name)).rstrip("\n")
            if cell.source != source:
                cell.source = source
                changed.append(name)
    if changed:
        nbformat.write(notebook, str(path))
    return changed


def main(argv=None):
    from autograder import visible

    command = (sys.argv[1:] if argv is None else argv or ["check"])[0]
    if command == "sync":
        changed = sync() + ([visible.TABLE] if visible.write() else [])
        print("updated: " + ", ".join(changed) if changed else "already in sync")
        return 0
    stale = differences() + ([] if visible.is_current() else [visible.TABLE])
    if stale:
        print("differ from autograder/reference.py and autograder/checks: " + ", ".join(stale))
        return 1
    print("the notebook's solution cells and the visible checks' table are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
