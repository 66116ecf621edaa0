"""Submissions that test the tests.

Each entry is a small Python file, never imported: its top-level functions named like
answer cells replace those cells of the released notebook, its top-level assignments
to answer variables (e.g. `bn_analogy = 1`) replace the answer cell that sets them, and
any other top-level code (imports, helpers) goes in front of the first replaced cell.
Every other answer cell gets the instructor's solution. `EXPECT` maps parts to "full"
(keeps full marks) or "loses" (must lose points); unlisted parts must keep full marks.

- wrong/: mistakes students make; each must lose points in the part it breaks.
- valid/: correct solutions written differently; each must keep full marks.
- examples/: the submissions `make demo` grades.
"""
import ast
import copy
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import course

HERE = Path(__file__).resolve().parent
KINDS = ("wrong", "valid", "examples", "cheats")


@dataclass
class Entry:
    """One corpus submission, described by its file."""

    name: str
    kind: str
    description: str
    expect: dict = field(default_factory=dict)
    functions: dict = field(default_factory=dict)   # answer grade_id -> source of the def
    assignments: dict = field(default_factory=dict)  # variable -> source line
    preamble: str = ""
    blank: bool = False                              # hand in the release unchanged
    limit: str = ""  # cheats/: why the grader cannot tell this shortcut from honest work (README)

    def expectation(self, part):
        return self.expect.get(part, "full")


def load(kind, names=None):
    """The entries of one kind (wrong, valid, examples, cheats), sorted by name."""
    entries = [parse(path, kind) for path in sorted((HERE / kind).glob("*.py"))]
    return [e for e in entries if names is None or e.name in names]


def parse(path, kind):
    """Read one entry file without importing it."""
    text = Path(path).read_text()
    tree = ast.parse(text)
    entry = Entry(name=Path(path).stem, kind=kind, description=(ast.get_docstring(tree) or "").strip())
    answer_ids = set(course.assignment().points)
    preamble = []
    for node in tree.body:
        source = ast.get_source_segment(text, node)
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["EXPECT"]:
            entry.expect = ast.literal_eval(node.value)
        elif isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["BLANK"]:
            entry.blank = bool(ast.literal_eval(node.value))
        elif isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["LIMIT"]:
            entry.limit = ast.literal_eval(node.value)
        elif isinstance(node, ast.FunctionDef) and node.name in answer_ids:
            entry.functions[node.name] = _with_decorators(text, node)
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in answer_ids and node.targets[0].id not in ANSWER_VARIABLES:
            entry.functions[node.targets[0].id] = source  # an answer cell that binds the name another way
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in ANSWER_VARIABLES:
            entry.assignments[node.targets[0].id] = source
        else:
            decorated = isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            preamble.append(_with_decorators(text, node) if decorated else source)
    entry.preamble = "\n\n".join(preamble)
    return entry


# what every corpus student writes in the manually graded cells (graders read these)
WRITTEN_ANSWERS = {
    "preprocessing_justification": (
        "Option 3 subtracts one mean image computed over the whole data set, so every pixel (a "
        "feature) gets its own statistic taken across all the examples, which is what batch norm "
        "does per feature across the batch. Option 2 only looks at the pixels of one image and "
        "rescales that image by itself, like layer norm uses all features of a single example. "
        "Option 1 is close but works row by row, so it is more like group norm."),
    "batchsize_explanation": (
        "With small batches the mean and variance batch norm computes in training are noisy, so the "
        "same image gets normalized differently depending on which images share its batch, and the "
        "running averages used at test time are averages of those noisy estimates. In my results "
        "test mode classified the training images better than train mode at batch size 5, so the "
        "noise during training hurt more than the running averages did. Layer norm normalizes each "
        "image with its own statistics, so it never sees the batch; its accuracy still moves a little "
        "because smaller batches also mean noisier gradient steps, just like the network without "
        "normalization. Layer norm is the worse choice when different features have very different "
        "scales that matter (e.g. in convolutional nets), and batch norm is fine when batches are "
        "large and the test data look like the training data."),
}
WRITTEN_ANSWER = WRITTEN_ANSWERS["preprocessing_justification"]

# answer variables and the answer cell that sets them
ANSWER_VARIABLES = {"bn_analogy": "preprocessing_analogy", "ln_analogy": "preprocessing_analogy"}


def _with_decorators(text, node):
    lines = text.splitlines()
    start = min([d.lineno for d in getattr(node, "decorator_list", [])] + [node.lineno]) - 1
    return "\n".join(lines[start:node.end_lineno])


def _solutions(assignment):
    """The instructor's answer cells, by grade_id."""
    notebook = nbformat.read(str(assignment.source_dir / f"{assignment.notebooks[0]}.ipynb"), as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: _without_markers(c.source) for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution")}


def _without_markers(source):
    return "\n".join(line for line in source.splitlines()
                     if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def notebook(entry, assignment=None):
    """The submitted notebook of an entry: the release with its answers filled in."""
    assignment = assignment or course.assignment()
    release = nbformat.read(str(assignment.release_dir / f"{assignment.notebooks[0]}.ipynb"), as_version=4)
    if entry.blank:
        return release
    solutions = _solutions(assignment)
    set_by_entry = {ANSWER_VARIABLES[name] for name in entry.assignments}
    result = copy.deepcopy(release)
    preamble = entry.preamble
    for cell in result.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not meta.get("solution"):
            continue
        if cell.cell_type == "markdown":
            cell.source = WRITTEN_ANSWERS[grade_id]
            continue
        if grade_id in entry.functions:
            source = entry.functions[grade_id]
        elif grade_id in set_by_entry:
            source = _with_assignments(solutions[grade_id], entry.assignments)
        else:
            cell.source = solutions[grade_id]
            continue
        if preamble:
            source, preamble = preamble + "\n\n\n" + source, ""
        cell.source = source
    return result


def _with_assignments(solution, assignments):
    """The solution cell of answer variables with some variables set otherwise."""
    lines = [line for line in solution.splitlines()
             if not any(line.startswith(f"{name} =") for name in assignments)]
    return "\n".join(lines + list(assignments.values()))


def write_submission(entry, submitted_root, student=None, assignment=None, timestamp=None):
    """Write an entry as submitted/<student>/<assignment>/ under submitted_root."""
    assignment = assignment or course.assignment()
    folder = Path(submitted_root) / (student or entry.name) / assignment.id
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook(entry, assignment), str(folder / f"{assignment.notebooks[0]}.ipynb"))
    if timestamp:
        (folder / "timestamp.txt").write_text(timestamp + "\n")
    return folder


def grade_locally(entry, seed=None, assignment=None):
    """Grade an entry's answer cells in this process (fast; no nbgrader, no sandbox).

    Returns {part: Verdict} for the autograded parts.
    """
    import numpy as np

    from autograder import checks
    from autograder.hidden import LocalStudent

    from autograder import audit

    assignment = assignment or course.assignment()
    namespace = {"np": np}
    submitted = notebook(entry, assignment)
    for cell in submitted.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("solution"):
            exec(compile(cell.source, f"<{entry.name}:{meta.get('grade_id')}>", "exec"), namespace)
    release = nbformat.read(str(assignment.release_dir / f"{assignment.notebooks[0]}.ipynb"), as_version=4)
    student = LocalStudent(namespace, facts=audit.grading_facts(submitted, release))
    return {part: checks.check_part(part, student, seed=seed, assignment_id=assignment.id)
            for part in assignment.auto_parts if part in checks.CHECKS}
