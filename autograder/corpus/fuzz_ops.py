"""The operators of autograder.corpus.fuzz: each damages a notebook draft in place.

Every operator is a function (draft, rng) that edits draft.notebook (the JSON dict) or how
draft will be written (encoding, byte-order mark, indent, ASCII escapes). Operators that
pick cells pick them at random with rng; structural ones leave the answers' text alone.
"""
import copy

ODD_VALUES = (None, True, 5, "nbgrader", ["solution"])


def _cells(draft):
    """The cell list (format 4), or the first worksheet's (format 3)."""
    notebook = draft.notebook
    return notebook["cells"] if "cells" in notebook else notebook["worksheets"][0]["cells"]


def text(cell):
    """A cell's text as the reader sees it (None when it has none)."""
    source = cell.get("source", cell.get("input")) if isinstance(cell, dict) else None
    return "".join(s for s in source if isinstance(s, str)) if isinstance(source, list) else source


def _is_answer(draft, cell):
    return text(cell) in draft.answers


def _nbgrader_cells(draft):
    return [c for c in _cells(draft) if isinstance(c.get("metadata"), dict)
            and isinstance(c["metadata"].get("nbgrader"), dict)]


def _some(rng, items):
    """A random non-empty subset of items (all of them a third of the time)."""
    if not items or rng.random() < 1 / 3:
        return list(items)
    return rng.sample(items, rng.randint(1, max(1, len(items) // 4)))


# --- nbgrader metadata


def nbgrader_not_dict(draft, rng):
    """Some cells' nbgrader metadata becomes null, true, a number, a string or a list."""
    for cell in _some(rng, _nbgrader_cells(draft)):
        cell["metadata"]["nbgrader"] = rng.choice(ODD_VALUES)


def integer_flags(draft, rng):
    """The flags of every nbgrader cell become integers (solution: 1)."""
    for cell in _nbgrader_cells(draft):
        meta = cell["metadata"]["nbgrader"]
        meta.update({k: int(v) for k, v in meta.items() if isinstance(v, bool)})


def odd_schema_version(draft, rng):
    """Some cells lose their nbgrader schema_version or get an odd one."""
    for cell in _some(rng, _nbgrader_cells(draft)):
        meta = cell["metadata"]["nbgrader"]
        if rng.random() < 0.5:
            meta.pop("schema_version", None)
        else:
            meta["schema_version"] = rng.choice([None, "3", 2, 99])


def grade_id_lost(draft, rng):
    """Some cells lose their grade_id (deleted, empty, blank or null)."""
    for cell in _some(rng, _nbgrader_cells(draft)):
        meta = cell["metadata"]["nbgrader"]
        if rng.random() < 0.4:
            meta.pop("grade_id", None)
        else:
            meta["grade_id"] = rng.choice(["", None, "   "])


def nbgrader_stripped(draft, rng):
    """Every cell loses its nbgrader metadata (an editor that drops it)."""
    for cell in _nbgrader_cells(draft):
        del cell["metadata"]["nbgrader"]


def metadata_not_dict(draft, rng):
    """Some cells' metadata becomes null, a list, a string or a number."""
    for cell in _some(rng, _cells(draft)):
        cell["metadata"] = rng.choice([None, [], "metadata", 0])


# --- cell ids


def long_ids(draft, rng):
    """Some cells get 200-character ids."""
    for cell in _some(rng, _cells(draft)):
        cell["id"] = (str(cell.get("id")) * 200)[:200]


def odd_ids(draft, rng):
    """Some cells get ids that are not valid strings."""
    for cell in _some(rng, _cells(draft)):
        cell["id"] = rng.choice([7, None, ["id"], "", "not a valid id!"])


def repeated_ids(draft, rng):
    """Some cells get the id of the first cell."""
    cells = _cells(draft)
    for cell in _some(rng, cells):
        cell["id"] = cells[0].get("id")


# --- fields of cells and of the notebook


def unknown_cell_type(draft, rng):
    """Some cells get an unknown cell_type, or none."""
    for cell in _some(rng, _cells(draft)):
        if rng.random() < 0.2:
            cell.pop("cell_type", None)
        else:
            cell["cell_type"] = rng.choice(["Code", "unknown", None, 3, ""])


def odd_source(draft, rng):
    """Some cells that are not answers get a null, numeric or mixed source."""
    others = [c for c in _cells(draft) if not _is_answer(draft, c)]
    for cell in _some(rng, others):
        cell["source"] = rng.choice([None, 42, 1.5, ["a", None, 3]])


def odd_outputs(draft, rng):
    """Some code cells get outputs and execution counts of the wrong type."""
    for cell in _some(rng, [c for c in _cells(draft) if c.get("cell_type") == "code"]):
        cell["outputs"] = rng.choice(["output", [1, "x"], None, {}])
        cell["execution_count"] = rng.choice([None, "5", 1.5])


def odd_attachments(draft, rng):
    """Some markdown cells get attachments that are not a dict."""
    for cell in _some(rng, [c for c in _cells(draft) if c.get("cell_type") == "markdown"]):
        cell["attachments"] = rng.choice([[], "image.png", 3])


def stray_entries(draft, rng):
    """Values that are not cells appear in the cell list."""
    cells = _cells(draft)
    for _ in range(rng.randint(1, 3)):
        cells.insert(rng.randrange(len(cells) + 1), rng.choice([None, "cell", 5, []]))


def odd_kernelspec(draft, rng):
    """The kernelspec becomes a string or a list."""
    draft.notebook.setdefault("metadata", {})["kernelspec"] = rng.choice(["python3", ["python3"]])


def odd_format_version(draft, rng):
    """The nbformat version becomes a string, a float, 3, 5, null or goes missing."""
    value = rng.choice(["4", 4.0, 5, None, 3, "missing"])
    if value == "missing":
        del draft.notebook["nbformat"]
    else:
        draft.notebook["nbformat"] = value


def negative_minor(draft, rng):
    """nbformat_minor becomes -1."""
    draft.notebook["nbformat_minor"] = -1


def lone_surrogate(draft, rng):
    """A lone surrogate (\\ud800-style escape) appears in some metadata."""
    cell = rng.choice(_cells(draft))
    target = cell["metadata"] if isinstance(cell.get("metadata"), dict) else draft.notebook["metadata"]
    target["note"] = rng.choice(["\ud800", "broken \udfff text", "\udbff"])
    draft.ascii = True


# --- order and copies


def move_cell(draft, rng):
    """One cell moves elsewhere."""
    cells = _cells(draft)
    start = rng.randrange(len(cells))
    end = rng.choice([k for k in range(len(cells)) if k != start])
    cells.insert(end, cells.pop(start))


def swap_neighbours(draft, rng):
    """Two neighbouring cells swap places."""
    cells = _cells(draft)
    k = rng.choice([k for k in range(len(cells) - 1) if text(cells[k]) != text(cells[k + 1])])
    cells[k], cells[k + 1] = cells[k + 1], cells[k]


def duplicate_cell(draft, rng):
    """One cell is pasted twice."""
    cells = _cells(draft)
    k = rng.randrange(len(cells))
    cells.insert(k + 1, copy.deepcopy(cells[k]))


# --- how the file is written (valid re-writings first, then format 3 and encodings)


def source_lists(draft, rng):
    """Every source becomes a list of lines (valid nbformat)."""
    for cell in _cells(draft):
        if isinstance(cell.get("source"), str):
            cell["source"] = cell["source"].splitlines(keepends=True)


def source_strings(draft, rng):
    """Every source becomes one string (valid nbformat)."""
    for cell in _cells(draft):
        if isinstance(cell.get("source"), list) and all(isinstance(s, str) for s in cell["source"]):
            cell["source"] = "".join(cell["source"])


def compact_json(draft, rng):
    """The file is written without indentation (valid)."""
    draft.indent = None


def ascii_escapes(draft, rng):
    """Non-ASCII text is written as \\u escapes (valid)."""
    draft.ascii = True


def format_3(draft, rng):
    """Rewrite as an nbformat 3 notebook (worksheets; code cells keep their text in "input")."""
    notebook = draft.notebook
    cells = notebook.pop("cells")
    for cell in cells:
        if isinstance(cell, dict):
            cell.pop("id", None)
            if cell.get("cell_type") == "code":
                cell["input"] = cell.pop("source", "")
                cell["prompt_number"] = cell.pop("execution_count", None)
                cell["language"] = "python"
    notebook.update(nbformat=3, nbformat_minor=0, worksheets=[{"cells": cells, "metadata": {}}])


def encoding(name, bom=b""):
    """An operator that writes the file in another encoding (with a byte-order mark)."""
    def apply(draft, rng):
        draft.encoding, draft.bom = name, bom
    return apply


# --- content: an answer changes


def _answer_cells(draft):
    return [c for c in _cells(draft) if _is_answer(draft, c)]


def delete_answer(draft, rng):
    """An answer cell is deleted."""
    _cells(draft).remove(rng.choice(_answer_cells(draft)))


def blank_answer(draft, rng):
    """An answer cell is emptied."""
    rng.choice(_answer_cells(draft))["source"] = ""


def edit_answer(draft, rng):
    """An answer cell gets an extra line."""
    cell = rng.choice(_answer_cells(draft))
    cell["source"] = text(cell) + "\n# edited after the deadline"
