"""Grade a fresh copy of the release into which the student's answers are injected.

Damage from editors, merges and copy-paste must not cost an honest student points, so a
submission is never graded as it was saved: its cells are read leniently
(autograder.lenient.read_cells) and every answer cell of the release gets the student's
cell for it, found by, in turn:

1. its nbgrader grade_id, when the cells carrying that grade_id all hold the same text;
2. for a code answer, the name the release cell defines (the function named by its
   grade_id, else the variables it sets: bn_analogy and ln_analogy): the student's cell
   that kept the release cell's id if it defines that name, else the last code cell that
   does; for a written (markdown) answer, the cell that kept the release cell's id, else
   a markdown cell, not text of the release, right after the question (the release cell
   before the answer).

Read-only release cells (setup, checks, tests) and the release's other text always come
from the release. The student's other cells are kept, each placed after the release cell
that stands for the nearest recognised cell before it (a helper just above an answer
stays above it); an edited copy of a plain release cell goes right after that cell.

Damage (Notes.repairs, and the caller's "repaired: ..." status) is any change to the
notebook's structure rather than to its answers: a file that is not UTF-8 JSON in
nbformat 4 or breaks its schema (kernelspec, outputs, attachments or metadata of the
wrong type), lone surrogates, invalid or repeated cell ids, nbgrader metadata that differs
from the release's (lost, renamed, retyped, integer flags, schema_version) or sits on a
second cell (a pasted answer cell, which nbgrader rejects), release cells out of order or
duplicated, and read-only cells missing (Jupyter does not let students delete them). Not
damage: answers filled in, cells added, plain cells edited or deleted, valid re-writings
(sources as lists, other JSON layout, extra metadata, points 10 for 10.0). Remarks
(Notes.remarks) say which answers were not found (e.g. a deleted answer cell) and which
edits to read-only cells were undone; they are not damage.
"""
import ast
import functools
import json
import re
from dataclasses import dataclass, field

import nbformat

from autograder.feedback import without_hidden_tests
from autograder.lenient import UnreadableNotebook, counted, read_cells

__all__ = ["Notes", "UnreadableNotebook", "read_cells", "rebuild", "rebuild_file"]

TRACKED = ("grade_id", "cell_type", "grade", "solution", "locked", "points", "schema_version")
TOP_LEVEL_NAME = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)", re.MULTILINE)


@dataclass
class Notes:
    """What rebuilding found: repairs (damage looked past) and remarks (not damage)."""

    repairs: list = field(default_factory=list)
    remarks: list = field(default_factory=list)

    @property
    def damaged(self):
        """True when the submission was damaged and had to be repaired."""
        return bool(self.repairs)

    def all(self):
        """Every note, repairs first."""
        return self.repairs + self.remarks


def rebuild_file(data, release):
    """
    Rebuild a submitted notebook file from the release.

    Inputs:
    - data: raw bytes of the submitted .ipynb file.
    - release: the released notebook (nbformat NotebookNode, version 4).

    Returns a tuple of:
    - notebook: NotebookNode to grade (valid nbformat 4).
    - notes: Notes; notes.damaged says whether the file needed repairs.

    Raises UnreadableNotebook (only) when the bytes hold no notebook at all.
    """
    cells, read_notes = read_cells(data)
    notebook, notes = rebuild(cells, release)
    notes.repairs[:0] = read_notes
    return notebook, notes


def rebuild(cells, release):
    """
    Inject the student's cells into a copy of the release (see the module docstring).

    Inputs:
    - cells: list of cell dicts as returned by read_cells (keys cell_type, source and
      grade_id; nbgrader and id may be left out, then they count as missing).
    - release: the released notebook (nbformat NotebookNode, version 4).

    Returns a tuple of:
    - notebook: a deep copy of the release holding the student's answers and extra cells.
    - notes: Notes on the damage found (repairs) and on answers not found (remarks).
    """
    notes = Notes()
    cells = [{"grade_id": None, "nbgrader": None, "id": None, **cell} for cell in cells]
    roles = [None] * len(cells)   # student cell -> index of the release cell it stands for
    chosen = _choose_answers(cells, release.cells, roles)
    _recognise_others(cells, release.cells, roles, notes)
    _check_structure(cells, release.cells, roles, chosen, notes)
    notes.remarks = list(dict.fromkeys(notes.remarks))
    return _assemble(cells, release, roles, chosen), notes


def _nbgrader(cell):
    meta = cell.get("metadata", {}).get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def _is_answer(cell):
    return bool(_nbgrader(cell).get("solution"))


def _choose_answers(cells, release_cells, roles):
    """The student cell for each release answer cell: {release index: student index}."""
    answers = [i for i, cell in enumerate(release_cells) if _is_answer(cell)]
    chosen = {}
    for step in (_by_grade_id, _by_name_or_id):
        for i in answers:
            if i not in chosen:
                free = [j for j, role in enumerate(roles) if role is None]
                j = step(cells, release_cells, i, free)
                if j is not None:
                    chosen[i], roles[j] = j, i
    for i, j in chosen.items():   # exact copies of a chosen answer are that answer too
        for k, role in enumerate(roles):
            if role is None and cells[k]["source"] == cells[j]["source"] and cells[k]["source"].strip():
                roles[k] = i
    return chosen


def _by_grade_id(cells, release_cells, i, free):
    """The last cell with the answer's grade_id, if all cells with it hold the same text."""
    grade_id = _nbgrader(release_cells[i]).get("grade_id")
    found = [j for j in free if cells[j]["grade_id"] == grade_id]
    return found[-1] if len({cells[j]["source"] for j in found}) == 1 else None


def _by_name_or_id(cells, release_cells, i, free):
    """Fallback for an answer whose grade_id is lost or shared (see the module docstring)."""
    release_cell = release_cells[i]
    same_id = [j for j in free if cells[j]["id"] and cells[j]["id"] == release_cell.get("id")]
    if release_cell.cell_type == "markdown":
        return same_id[0] if same_id else _after_question(cells, release_cells, i, free)
    wanted = _wanted_names(release_cell)
    texts = {c.source for c in release_cells if not _is_answer(c)}
    scored = [(len(wanted & defined_names(cells[j]["source"])), j in same_id, j) for j in free
              if cells[j]["cell_type"] == "code" and cells[j]["source"] not in texts]
    best = max(scored, default=(0, False, None))
    return best[2] if best[0] else None


def _wanted_names(release_cell):
    """The answer's primary name: its grade_id if the cell defines it, else all it defines."""
    names = defined_names(release_cell.source)
    grade_id = _nbgrader(release_cell).get("grade_id")
    return {grade_id} if grade_id in names else names


def _after_question(cells, release_cells, i, free):
    """A new markdown cell right after the student's copy of the question before answer i."""
    if i == 0:
        return None
    question, stub = release_cells[i - 1].source, release_cells[i].source
    texts = {c.source for c in release_cells if c.cell_type == "markdown"} - {stub}
    grade_ids = {_nbgrader(c).get("grade_id") for c in release_cells}
    for j in free:
        if j > 0 and cells[j - 1]["source"] == question and cells[j]["cell_type"] == "markdown" \
                and cells[j]["source"].strip() and cells[j]["source"] not in texts \
                and cells[j]["grade_id"] not in grade_ids - {None}:
            return j
    return None


@functools.lru_cache(maxsize=4096)
def defined_names(source):
    """
    Names a cell defines at top level: functions, classes and assigned variables.

    Inputs:
    - source: the cell's text (a cell that does not parse is scanned line by line).

    Returns a frozenset of names.
    """
    try:
        tree = ast.parse(source)
    except Exception:  # SyntaxError, ValueError (null bytes), RecursionError, MemoryError
        return frozenset(a or b for a, b in TOP_LEVEL_NAME.findall(source))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                elements = target.elts if isinstance(target, (ast.Tuple, ast.List)) else [target]
                names |= {t.id for t in elements if isinstance(t, ast.Name)}
    return frozenset(names)


def _recognise_others(cells, release_cells, roles, notes):
    """Match the remaining cells to read-only and plain release cells (by grade_id, id, text)."""
    by_grade_id = {_nbgrader(c).get("grade_id"): i for i, c in enumerate(release_cells) if not _is_answer(c)}
    by_id = {c.get("id"): i for i, c in enumerate(release_cells) if not _is_answer(c)}
    by_text = {}
    for i, cell in enumerate(release_cells):
        by_text.setdefault(cell.source, []).append(i)
    for j, cell in enumerate(cells):
        if roles[j] is not None:
            continue
        i = by_grade_id.get(cell["grade_id"]) if cell["grade_id"] else None
        if i is None and cell["id"] and cell["id"] in by_id and (_nbgrader(release_cells[by_id[cell["id"]]])
                                                  or cell["source"] == release_cells[by_id[cell["id"]]].source):
            i = by_id[cell["id"]]
        if i is not None:
            roles[j] = i
            if without_hidden_tests(cell["source"]).strip() != without_hidden_tests(release_cells[i].source).strip():
                grade_id = _nbgrader(release_cells[i]).get("grade_id")
                notes.remarks.append(f"edits to the read-only cell {grade_id} were undone")
        elif cell["source"] in by_text:
            found = by_text[cell["source"]]
            roles[j] = found[0] if len(found) == 1 else "text"   # text shared by release cells
        elif not cell["source"].strip():
            roles[j] = "empty"


def _signature(meta):
    """The nbgrader fields that matter, comparable across JSON writers (10 == 10.0, 1 != True)."""
    if meta is None or meta == {}:
        return None
    if not isinstance(meta, dict):
        return "damaged"
    def normal(value):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return ("number", float(value))
        return (type(value).__name__, repr(value))
    return tuple(normal(meta.get(key, ...)) for key in TRACKED)


def _check_structure(cells, release_cells, roles, chosen, notes):
    """Notes on metadata, order, duplicates and missing cells, and answers not found."""
    matched = [(j, role) for j, role in enumerate(roles) if isinstance(role, int)]
    wanted = [_signature(c.metadata.get("nbgrader")) for c in release_cells]
    damaged = sum(_signature(cells[j]["nbgrader"]) != wanted[i] for j, i in matched)
    foreign = sum(roles[j] is None and _signature(c["nbgrader"]) is not None for j, c in enumerate(cells))
    order = list(dict.fromkeys(i for _, i in matched))
    repeated = len(matched) - len(order)
    missing = [i for i, c in enumerate(release_cells) if _nbgrader(c) and not _is_answer(c) and i not in order]
    found = ((damaged, "the nbgrader metadata of {n} cell{|s} was damaged and rebuilt from the release"),
             (foreign, "{n} copied or renamed cell{|s} with nbgrader metadata {was|were} kept as your own"),
             (int(order != sorted(order)), "cells were out of order: graded in the release's order"),
             (repeated, "{n} cell{|s} of the release appeared more than once: each was graded once"),
             (len(missing), "{n} read-only cell{|s} {was|were} missing and restored from the release"))
    notes.repairs += [counted(sentence, count) for count, sentence in found if count]
    for i, cell in enumerate(release_cells):
        if _is_answer(cell) and i not in chosen:
            if cell.cell_type == "code":
                what = "no cell defines " + " and ".join(sorted(_wanted_names(cell)) or [_nbgrader(cell)["grade_id"]])
            else:
                what = f"the written answer {_nbgrader(cell)['grade_id']} was not found"
            notes.remarks.append(f"{what}: its answer stays empty")


def _assemble(cells, release, roles, chosen):
    """The release with the chosen answers and the extra cells in place."""
    result = nbformat.from_dict(json.loads(json.dumps(release)))   # a deep copy, faster
    for i, j in chosen.items():
        result.cells[i].source = cells[j]["source"]
        if result.cells[i].cell_type == "markdown" and cells[j].get("attachments"):
            result.cells[i].attachments = cells[j]["attachments"]
    plain_ids = {c.get("id"): i for i, c in enumerate(release.cells) if not _nbgrader(c)}
    after = {i: [] for i in range(-1, len(release.cells))}
    anchor = -1
    for j, (cell, role) in enumerate(zip(cells, roles)):
        if isinstance(role, int):
            anchor = role
        elif role is None:
            anchor = plain_ids.get(cell["id"] or "", anchor)   # an edited plain cell follows the release's
            after[anchor].append(cell)
    used_ids = {c.get("id") for c in release.cells}
    ordered = [_new_cell(c, used_ids) for c in after[-1]]
    for i, cell in enumerate(result.cells):
        ordered += [cell] + [_new_cell(c, used_ids) for c in after[i]]
    if result.nbformat_minor < 5:   # cell ids came with nbformat 4.5
        for cell in ordered:
            cell.pop("id", None)
    result.cells = ordered
    return result


def _new_cell(cell, used_ids):
    """A fresh nbformat cell with the student's text and a new, deterministic id."""
    number = len(used_ids)
    while f"extra-{number}" in used_ids:
        number += 1
    used_ids.add(f"extra-{number}")
    make = {"code": nbformat.v4.new_code_cell, "raw": nbformat.v4.new_raw_cell}.get(
        cell["cell_type"], nbformat.v4.new_markdown_cell)
    new = make(source=cell["source"], id=f"extra-{number}")
    if new.cell_type == "markdown" and cell.get("attachments"):
        new.attachments = cell["attachments"]
    return new
