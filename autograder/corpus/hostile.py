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
from autograder.corpus import payloads

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
    folder: str = ""                   # the student's folder name when it is not `name`

    @property
    def student(self):
        return self.folder or self.name

    @property
    def refused(self):
        """The folder name cannot be a student id: no grade, a status in grades.csv."""
        return self.default == "refused"

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
    _edit(BLANK, _insert_after("setup", payloads.COPY_FROM_SOURCE))(folder, root)
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


def _planted_files(folder, root):
    """The perfect notebook beside files named after modules the grader imports."""
    _write(PERFECT, folder)
    for name in payloads.PLANTED_NAMES:
        (Path(folder) / f"{name}.py").write_text(payloads.PLANTED_MODULE)
    package = Path(folder) / "autograder"
    package.mkdir()
    for module in ("__init__", "sandbox", "hidden", "wire", "checks", "reference"):
        (package / f"{module}.py").write_text(payloads.PLANTED_MODULE)


def _timestamp(content):
    def build(folder, root):
        _write(PERFECT, folder)
        (Path(folder) / "timestamp.txt").write_text(content)
    return build


def _sleeps_past_the_budget(notebook, root):
    index = _index(notebook, "test_layernorm_backward") + 1
    for _ in range(16):
        notebook.cells.insert(index, nbformat.v4.new_code_cell(payloads.SLEEPS_PAST_THE_BUDGET))


LATE_PARTS = ("preprocessing_analogy", "batchsize_training", "batchsize_most_sensitive",
              "batchsize_layernorm_like", "batchsize_bn_mode", "batchsize_seed_claim")
ZERO_FUNCTIONS = {part: "zero" for part in FUNCTION_PARTS}

CASES = [
    Case("infinite_loop_in_function", "batchnorm_forward never returns",
         _edit(PERFECT, _replace_answer("batchnorm_forward", payloads.INFINITE_FUNCTION)),
         parts={**{p: "zero" for p in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")},
                "batchsize_training": "any"}),  # layer norm's training run still earns its share
    Case("infinite_loop_at_top_level", "a cell that loops forever (interrupted by the time limit)",
         _edit(PERFECT, _insert_after("setup", "while True:\n    pass\n"))),
    Case("loop_ignoring_interrupts", "a last cell that swallows KeyboardInterrupt and never ends",
         _edit(PERFECT, lambda nb, root: nb.cells.append(nbformat.v4.new_code_cell(payloads.IGNORES_INTERRUPT))),
         status="failed"),
    Case("os_exit", "os._exit(1) after the batch norm tests: the kernel dies",
         _edit(PERFECT, _insert_after("test_batchnorm_backward_alt", "import os\nos._exit(1)\n")),
         status="failed", flagged=True, default="zero",
         parts={p: "full" for p in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")}),
    Case("memory_bomb", "allocates memory until the limit stops it",
         _edit(PERFECT, _insert_after("setup", payloads.MEMORY_BOMB))),
    Case("fork_bomb", "forks up to 300 processes (bounded)",
         _edit(PERFECT, _insert_after("setup", payloads.FORK_BOMB)), status="flagged", flagged=True),
    Case("huge_output", "prints gigabytes until the time limit",
         _edit(PERFECT, _insert_after("setup", payloads.HUGE_OUTPUT))),
    Case("network", "tries to reach the internet", _edit(PERFECT, _insert_after("setup", payloads.NETWORK)),
         flagged=False),
    Case("copies_the_source_notebook", "empty answers; execs the solutions out of source/",
         _edit(BLANK, _insert_after("setup", payloads.COPY_FROM_SOURCE)), default="zero", status="flagged", flagged=True),
    Case("reads_the_gradebook", "empty answers; execs solution code read from gradebook.db",
         _edit(BLANK, _insert_after("setup", payloads.READ_GRADEBOOK)), default="zero", status="flagged", flagged=True),
    Case("writes_the_gradebook", "empty answers; sets every grade to 1000 in gradebook.db",
         _edit(BLANK, _insert_after("setup", payloads.WRITE_GRADEBOOK)), default="zero", status="flagged", flagged=True),
    Case("imports_the_reference", "imports the five functions from autograder.reference",
         _edit(BLANK, _insert_after("setup", payloads.IMPORT_REFERENCE)), default="zero", status="flagged", flagged=True),
    Case("monkeypatches_numpy", "empty answers; makes numpy's comparisons always succeed",
         _edit(BLANK, _insert_after("setup", payloads.MONKEYPATCH_NUMPY)), default="zero", status="flagged", flagged=True),
    Case("strips_asserts", "empty answers; an AST transformer deletes every assert",
         _edit(BLANK, _insert_after("setup", payloads.STRIP_ASSERTS)), default="zero", status="flagged", flagged=True),
    Case("fakes_test_output", "empty answers; an input transformer turns hidden tests into '10.0'",
         _edit(BLANK, _insert_after("setup", payloads.FAKE_SCORES)), default="zero", status="flagged", flagged=True),
    Case("fake_grader_module", "empty answers; replaces autograder.hidden in sys.modules with a fake "
         "that reports 10 points",
         _edit(BLANK, _insert_after("setup", payloads.FAKE_GRADER_MODULE)), default="zero", status="flagged", flagged=True),
    Case("stderr_and_warnings", "correct code that prints to stderr and warns",
         _edit(PERFECT, _insert_after("setup", payloads.STDERR_AND_WARNINGS))),
    Case("deleted_test_cell", "the test cell of batchnorm_forward deleted", _edit(PERFECT, _deleted_test_cell),
         status="repaired"),
    Case("edited_test_cell", "empty answers; the test cell of batchnorm_forward replaced by '10.0'",
         _edit(BLANK, _edited_test_cell), default="zero", status="flagged", flagged=True),
    Case("duplicated_test_cell", "the test cell of layernorm_forward duplicated",
         _edit(PERFECT, _duplicated_test_cell), status="repaired"),
    Case("stripped_metadata", "every cell's nbgrader metadata removed (another editor re-saved it)",
         _edit(PERFECT, _stripped_metadata), status="repaired"),
    Case("renamed_grade_id", "the answer cell of batchnorm_forward renamed", _edit(PERFECT, _renamed_grade_id),
         status="repaired"),
    Case("edited_points", "the test cell of batchnorm_forward worth 100 points (graded from the release's "
         "metadata: the edit earns nothing)", _edit(PERFECT, _edited_points), status="repaired"),
    Case("invalid_json", "the notebook file is not JSON", _invalid_json, status="failed", default="zero"),
    Case("empty_file", "the notebook file is empty", _empty_file, status="failed", default="zero"),
    Case("wrongly_named_notebook", "the notebook was saved as 'Normalization (1).ipynb'", _wrong_name),
    Case("symlink_outside", "empty answers; a symlink to the course's source/ and code that reads it",
         _symlink_outside, default="zero", status="flagged", flagged=True),
    # issue 9: nothing a student hands in runs outside the sandbox; one submission never stops
    # the class; bounded resources; plain-text exports; a robust check server
    Case("planted_modules", "files named random.py, json.py, numpy.py, … and an autograder/ package "
         "beside the perfect notebook", _planted_files),
    Case("timestamp_not_a_date", "timestamp.txt holds 'not a date'", _timestamp("not a date\n"),
         status="flagged", flagged=True),
    Case("timestamp_formula", "timestamp.txt holds a spreadsheet formula", _timestamp("=HYPERLINK(\"x\")"),
         status="flagged", flagged=True),
    Case("exceeds_time_budget", "16 cells of time.sleep(5), each under the cell limit, past the notebook's "
         "time budget", _edit(PERFECT, _sleeps_past_the_budget), status="failed: the notebook ran longer",
         default="any", parts={part: "zero" for part in LATE_PARTS}),
    Case("huge_error_messages", "three cells raise ValueError('A' * 30_000_000)",
         _edit(PERFECT, lambda nb, root: [_insert_after("setup", payloads.HUGE_ERROR)(nb, root) for _ in range(3)])),
    Case("huge_answer_strings", "the analogy and a batch-size answer are strings of 30 million characters",
         _edit(PERFECT, lambda nb, root: (_replace_answer("preprocessing_analogy", payloads.HUGE_ANSWERS)(nb, root),
                                          _replace_answer("batchsize_most_sensitive",
                                                          payloads.HUGE_BATCHSIZE_ANSWER)(nb, root))),
         parts={"preprocessing_analogy": "zero", "batchsize_most_sensitive": "zero"}),
    Case("fills_the_disk", "writes 320 MB into every folder it can find (runtime, matplotlib, cwd, /tmp)",
         _edit(PERFECT, _insert_after("setup", payloads.FILLS_DISK))),
    Case("escapes_in_messages", "batchnorm_forward raises an error with ANSI escapes, newlines and a "
         "lone surrogate", _edit(PERFECT, _replace_answer("batchnorm_forward", payloads.ESCAPES_IN_MESSAGES)),
         parts={**{p: "zero" for p in ("batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt")},
                "batchsize_training": "any"}),  # layer norm's training run still earns its share
    Case("garbage_to_the_grader", "sends malformed messages to the check socket (a list as the part, "
         "non-objects, a 2 GB length, deep nesting, bad bytes)",
         _edit(PERFECT, _insert_after("setup", payloads.GARBAGE_TO_THE_GRADER)), status="flagged", flagged=True),
    Case("snooper-7f3a9c", "prints everything its kernel can see: environment, folders, files, the "
         "connection file", _edit(PERFECT, _insert_after("test_batchsize_seed_claim", payloads.SNOOPS))),
    Case("formula_name", "a perfect notebook in a folder named =1+2", lambda f, r: _write(PERFECT, f),
         folder="=1+2"),
    Case("at_formula_name", "a perfect notebook in a folder named @SUM(1+1)", lambda f, r: _write(PERFECT, f),
         folder="@SUM(1+1)"),
    Case("glob_name", "a perfect notebook in a folder named [ab]", lambda f, r: _write(PERFECT, f),
         folder="[ab]", status="failed: not graded", default="refused"),
    Case("markup_name", "a perfect notebook in a folder named like an image whose error handler runs script",
         lambda f, r: _write(PERFECT, f), folder="<img src=x onerror=alert(document.domain)>",
         status="failed: not graded", default="refused"),
    Case("newline_name", "a perfect notebook in a folder whose name holds a newline",
         lambda f, r: _write(PERFECT, f), folder="new\nline", status="failed: not graded", default="refused"),
]
