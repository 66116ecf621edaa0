"""Repair a submission whose nbgrader metadata was lost or edited.

nbgrader finds answers and tests by the metadata of each cell. Editors that drop cell
metadata (or a student who edits it) leave a notebook nbgrader refuses to grade, or would
grade with the wrong points. Such a notebook is rebuilt from the release: every answer
cell of the release gets the student's cell that defines the same names (the function of
a function cell, the variables of an answer cell), the student's other code cells go in
front of the first answer, and the hidden tests come back from the gradebook as usual. The
student keeps every point the answers earn and gains none from the edit.
"""
import ast
import copy

import nbformat

TRACKED = ("grade", "solution", "locked", "points", "task")


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _signature(cell):
    meta = _meta(cell)
    return (cell.get("cell_type"),) + tuple(meta.get(key) for key in TRACKED)


def problems(notebook, release):
    """Why the submission's nbgrader metadata does not match the release's (empty: it does).

    Missing read-only cells are not problems (nbgrader restores them); missing, duplicated,
    renamed or edited answer and test cells are.
    """
    wanted = {_meta(c)["grade_id"]: _signature(c) for c in release.cells if _meta(c).get("grade_id")}
    found = [c for c in notebook.cells if _meta(c).get("grade_id")]
    if not found:
        return ["the notebook has lost its nbgrader metadata (re-saved by another editor?)"]
    issues = []
    for cell in found:
        grade_id = _meta(cell)["grade_id"]
        if grade_id not in wanted:
            issues.append(f"unknown cell id {grade_id!r} (renamed?)")
        elif _signature(cell) != wanted[grade_id]:
            issues.append(f"the grading metadata of cell {grade_id!r} was edited")
    present = [_meta(c)["grade_id"] for c in found]
    graded = [g for g, sig in wanted.items() if sig[1] or sig[2]]  # answer and test cells
    issues += [f"the cell {g!r} is missing" for g in graded if g not in present]
    issues += [f"the cell {g!r} appears more than once" for g in sorted(set(present)) if present.count(g) > 1]
    return list(dict.fromkeys(issues))


def _defined_names(source):
    """Top-level function names and assigned variable names of a cell (nothing if it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def rebuild(notebook, release):
    """A copy of the release holding the student's answers; returns (notebook, notes)."""
    result = copy.deepcopy(release)
    release_sources = {c.source for c in release.cells}
    student_code = [c for c in notebook.cells
                    if c.get("cell_type") == "code" and c.get("source", "") not in release_sources]
    used, notes = set(), []
    first_answer = None
    for index, cell in enumerate(result.cells):
        meta = _meta(cell)
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":
            match = [c for c in notebook.cells if c.get("cell_type") == "markdown"
                     and _meta(c).get("grade_id") == meta["grade_id"]]
            if match:
                cell.source = match[-1].source
            else:
                notes.append(f"the written answer {meta['grade_id']} could not be found: grade it by hand "
                             "from the submitted notebook")
            continue
        first_answer = index if first_answer is None else first_answer
        wanted = _defined_names(cell.source)
        primary = meta["grade_id"] if meta["grade_id"] in wanted else min(wanted, default=None)
        candidates = [c for c in student_code if primary in _defined_names(c.source)]
        if candidates:
            cell.source = candidates[-1].source
            used.add(id(candidates[-1]))
        else:
            notes.append(f"no cell defines {primary}: its answer stays empty")
    extra = [nbformat.v4.new_code_cell(c.source) for c in student_code if id(c) not in used]
    if extra and first_answer is not None:
        result.cells[first_answer:first_answer] = extra
    return result, notes
