"""Hostile and broken submissions, and what grading must make of each.

Each case builds one submission folder from the instructor's solution (or the blank
release) plus what a curious, determined or careless student adds. `expect` says what
grading must give: the status it starts with, and per autograded part "full", "zero" or
"any" (unlisted parts: the case's default). tests/test_hostile.py grades every case
through the real grading command, beside honest controls, and checks each expectation.
"""
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder import corpus, course

PERFECT = corpus.Entry(name="perfect", kind="examples", description="")
BLANK = corpus.Entry(name="blank", kind="examples", description="", blank=True)
FUNCTION_PARTS = ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
                  "layernorm_forward", "layernorm_backward", "batchsize_training")


@dataclass
class Case:
    """One hostile or broken submission."""

    name: str
    description: str
    build: callable                    # build(folder, course_root) writes the submission
    status: str = "graded"             # the final status (grades.csv) must start with this
    default: str = "full"              # expectation of the parts not in `parts`
    parts: dict = field(default_factory=dict)
    flagged: bool = False              # results.json lists integrity findings

    def expectation(self, part):
        return self.parts.get(part, self.default)


def _notebook_path(folder):
    return Path(folder) / f"{course.assignment().notebooks[0]}.ipynb"


def _write(entry, folder):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(corpus.notebook(entry), str(_notebook_path(folder)))
    return nbformat.read(str(_notebook_path(folder)), as_version=4)


def _edit(entry, change):
    """A builder: write the entry's notebook, let change(notebook, course_root) edit it."""
    def build(folder, course_root):
        notebook = _write(entry, folder)
        change(notebook, Path(course_root))
        nbformat.write(notebook, str(_notebook_path(folder)))
    return build


def _index(notebook, grade_id):
    return next(i for i, c in enumerate(notebook.cells)
                if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _insert_after(grade_id, source):
    def change(notebook, root):
        notebook.cells.insert(_index(notebook, grade_id) + 1,
                              nbformat.v4.new_code_cell(source.replace("COURSE_ROOT", str(root))))
    return change


def _replace_answer(grade_id, source):
    def change(notebook, root):
        notebook.cells[_index(notebook, grade_id)].source = source.replace("COURSE_ROOT", str(root))
    return change


INFINITE_FUNCTION = '''import numpy as np

def batchnorm_forward(x, gamma, beta, bn_param):
    while True:
        pass
'''
IGNORES_INTERRUPT = '''import time
while True:
    try:
        time.sleep(0.01)
    except KeyboardInterrupt:
        pass
'''
COPY_FROM_SOURCE = '''import json
for path in ("COURSE_ROOT/source/normalization/normalization.ipynb",
             "../../../source/normalization/normalization.ipynb", "secrets/normalization/normalization.ipynb"):
    try:
        cells = json.load(open(path))["cells"]
    except OSError:
        continue
    for cell in cells:
        if "def batchnorm_" in "".join(cell["source"]) or "def layernorm_" in "".join(cell["source"]):
            exec("".join(cell["source"]))
'''
READ_GRADEBOOK = '''import sqlite3
for path in ("COURSE_ROOT/gradebook.db", "../../../gradebook.db"):
    try:
        rows = sqlite3.connect(path).execute("select source from source_cells").fetchall()
    except Exception as error:
        print("no gradebook:", error)
        continue
    for (source,) in rows:
        if "def batchnorm_forward" in source:
            exec(source)
'''
WRITE_GRADEBOOK = '''import sqlite3
for path in ("COURSE_ROOT/gradebook.db", "../../../gradebook.db", "/tmp/gradebook.db"):
    try:
        db = sqlite3.connect(path)
        db.execute("update grade set auto_score = 1000, manual_score = 1000")
        db.commit()
    except Exception as error:
        print("could not write", path, error)
'''
MONKEYPATCH_NUMPY = '''import numpy as np
import numpy.testing
np.allclose = lambda *args, **kwargs: True
np.array_equal = lambda *args, **kwargs: True
np.max = lambda *args, **kwargs: 0.0
numpy.testing.assert_allclose = lambda *args, **kwargs: None
'''
STRIP_ASSERTS = '''import ast

class StripAsserts(ast.NodeTransformer):
    def visit_Assert(self, node):
        return ast.Pass()

get_ipython().ast_transformers.append(StripAsserts())
'''
FAKE_SCORES = '''def fake_scores(lines):
    text = "".join(lines)
    if "grade_part(" in text:
        return ["10.0\\n"]
    return lines

get_ipython().input_transformers_post.append(fake_scores)
'''
FAKE_GRADER_MODULE = '''import sys, types
fake = types.ModuleType("autograder.hidden")
fake.grade_part = lambda part, namespace: 10.0
package = types.ModuleType("autograder")
package.hidden = fake
sys.modules["autograder"] = package
sys.modules["autograder.hidden"] = fake
'''
IMPORT_REFERENCE = '''from autograder.reference import (batchnorm_forward, batchnorm_backward, batchnorm_backward_alt,
                                 layernorm_forward, layernorm_backward)
'''
MEMORY_BOMB = '''import numpy as np
blocks = []
try:
    while True:
        blocks.append(np.ones(2**27))  # 1 GiB each, until the limit stops it
except MemoryError:
    print("stopped after", len(blocks), "GiB")
del blocks
'''
FORK_BOMB = '''import os, time
children = []
try:
    for _ in range(300):  # bounded: at most 300 forks, each child sleeps and exits
        pid = os.fork()
        if pid == 0:
            time.sleep(20)
            os._exit(0)
        children.append(pid)
except OSError as error:
    print("stopped after", len(children), "children:", error)
'''
HUGE_OUTPUT = '''line = "x" * 1000
for i in range(10**7):
    print(line)
'''
NETWORK = '''import urllib.request
try:
    urllib.request.urlopen("http://example.com", timeout=3)
    print("network reachable")
except Exception as error:
    print("no network:", error)
'''
STDERR_AND_WARNINGS = '''import sys, warnings
print("debugging output on stderr", file=sys.stderr)
warnings.warn("a warning from the student's own code")
'''


def _invalid_json(folder, root):
    Path(folder).mkdir(parents=True, exist_ok=True)
    _notebook_path(folder).write_text('{"cells": [ this is not json')


def _empty_file(folder, root):
    Path(folder).mkdir(parents=True, exist_ok=True)
    _notebook_path(folder).write_text("")


def _wrong_name(folder, root):
    _write(PERFECT, folder)
    _notebook_path(folder).rename(Path(folder) / "Normalization (1).ipynb")


def _symlink_outside(folder, root):
    _edit(BLANK, _insert_after("setup", COPY_FROM_SOURCE))(folder, root)
    os.symlink(Path(root) / "source", Path(folder) / "secrets")


def _stripped_metadata(notebook, root):
    for cell in notebook.cells:
        cell.metadata.pop("nbgrader", None)


def _renamed_grade_id(notebook, root):
    notebook.cells[_index(notebook, "batchnorm_forward")].metadata["nbgrader"]["grade_id"] = "my_batchnorm"


def _edited_points(notebook, root):
    notebook.cells[_index(notebook, "test_batchnorm_forward")].metadata["nbgrader"]["points"] = 100


def _deleted_test_cell(notebook, root):
    del notebook.cells[_index(notebook, "test_batchnorm_forward")]


def _edited_test_cell(notebook, root):
    notebook.cells[_index(notebook, "test_batchnorm_forward")].source = "10.0"


def _duplicated_test_cell(notebook, root):
    index = _index(notebook, "test_layernorm_forward")
    duplicate = nbformat.from_dict(json.loads(json.dumps(notebook.cells[index])))
    duplicate.id = "duplicate-of-test-layernorm-forward"  # a pasted copy gets a new cell id
    notebook.cells.insert(index, duplicate)


ZERO_FUNCTIONS = {part: "zero" for part in FUNCTION_PARTS}

CASES = [
    Case("infinite_loop_in_function", "batchnorm_forward never returns",
         _edit(PERFECT, _replace_answer("batchnorm_forward", INFINITE_FUNCTION)),
         parts={p: "zero" for p in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
                                    "batchsize_training")}),
    Case("infinite_loop_at_top_level", "a cell that loops forever (interrupted by the time limit)",
         _edit(PERFECT, _insert_after("setup", "while True:\n    pass\n"))),
    Case("loop_ignoring_interrupts", "a last cell that swallows KeyboardInterrupt and never ends",
         _edit(PERFECT, lambda nb, root: nb.cells.append(nbformat.v4.new_code_cell(IGNORES_INTERRUPT))),
         status="failed"),
    Case("os_exit", "os._exit(1) after the batch norm tests: the kernel dies",
         _edit(PERFECT, _insert_after("test_batchnorm_backward_alt", "import os\nos._exit(1)\n")),
         status="failed", flagged=True, default="zero",
         parts={p: "full" for p in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")}),
    Case("memory_bomb", "allocates memory until the limit stops it",
         _edit(PERFECT, _insert_after("setup", MEMORY_BOMB))),
    Case("fork_bomb", "forks up to 300 processes (bounded)",
         _edit(PERFECT, _insert_after("setup", FORK_BOMB)), status="flagged", flagged=True),
    Case("huge_output", "prints gigabytes until the time limit",
         _edit(PERFECT, _insert_after("setup", HUGE_OUTPUT))),
    Case("network", "tries to reach the internet", _edit(PERFECT, _insert_after("setup", NETWORK)),
         flagged=False),
    Case("copies_the_source_notebook", "empty answers; execs the solutions out of source/",
         _edit(BLANK, _insert_after("setup", COPY_FROM_SOURCE)), default="zero", status="flagged", flagged=True),
    Case("reads_the_gradebook", "empty answers; execs solution code read from gradebook.db",
         _edit(BLANK, _insert_after("setup", READ_GRADEBOOK)), default="zero", status="flagged", flagged=True),
    Case("writes_the_gradebook", "empty answers; sets every grade to 1000 in gradebook.db",
         _edit(BLANK, _insert_after("setup", WRITE_GRADEBOOK)), default="zero", status="flagged", flagged=True),
    Case("imports_the_reference", "imports the five functions from autograder.reference",
         _edit(BLANK, _insert_after("setup", IMPORT_REFERENCE)), default="zero", status="flagged", flagged=True),
    Case("monkeypatches_numpy", "empty answers; makes numpy's comparisons always succeed",
         _edit(BLANK, _insert_after("setup", MONKEYPATCH_NUMPY)), default="zero", status="flagged", flagged=True),
    Case("strips_asserts", "empty answers; an AST transformer deletes every assert",
         _edit(BLANK, _insert_after("setup", STRIP_ASSERTS)), default="zero", status="flagged", flagged=True),
    Case("fakes_test_output", "empty answers; an input transformer turns hidden tests into '10.0'",
         _edit(BLANK, _insert_after("setup", FAKE_SCORES)), default="zero", status="flagged", flagged=True),
    Case("fake_grader_module", "empty answers; replaces autograder.hidden in sys.modules with a fake "
         "that reports 10 points",
         _edit(BLANK, _insert_after("setup", FAKE_GRADER_MODULE)), default="zero", status="flagged", flagged=True),
    Case("stderr_and_warnings", "correct code that prints to stderr and warns",
         _edit(PERFECT, _insert_after("setup", STDERR_AND_WARNINGS))),
    Case("deleted_test_cell", "the test cell of batchnorm_forward deleted", _edit(PERFECT, _deleted_test_cell),
         status="repaired"),
    Case("edited_test_cell", "empty answers; the test cell of batchnorm_forward replaced by '10.0'",
         _edit(BLANK, _edited_test_cell), default="zero", status="flagged", flagged=True),
    Case("duplicated_test_cell", "the test cell of layernorm_forward duplicated",
         _edit(PERFECT, _duplicated_test_cell), status="repaired"),
    Case("stripped_metadata", "every cell's nbgrader metadata removed (another editor re-saved it)",
         _edit(PERFECT, _stripped_metadata), status="repaired"),
    Case("renamed_grade_id", "the answer cell of batchnorm_forward renamed", _edit(PERFECT, _renamed_grade_id),
         status="flagged", flagged=True),
    Case("edited_points", "the test cell of batchnorm_forward worth 100 points",
         _edit(PERFECT, _edited_points), status="flagged", flagged=True),
    Case("invalid_json", "the notebook file is not JSON", _invalid_json, status="failed", default="zero"),
    Case("empty_file", "the notebook file is empty", _empty_file, status="failed", default="zero"),
    Case("wrongly_named_notebook", "the notebook was saved as 'Normalization (1).ipynb'", _wrong_name),
    Case("symlink_outside", "empty answers; a symlink to the course's source/ and code that reads it",
         _symlink_outside, default="zero", status="flagged", flagged=True),
]
