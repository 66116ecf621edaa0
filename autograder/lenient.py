"""Read the cells of a damaged notebook file, leniently.

Editors, merges and copy-paste damage notebook files in many small ways: another text
encoding, metadata of the wrong type, a null source, an old or odd format version. The
grader only needs each cell's type, text, nbgrader metadata and id, so this module reads
those with plain json (nbformat would reject the whole file) and describes, in short
sentences, every kind of damage it had to look past. Only bytes that hold no notebook at
all raise UnreadableNotebook. autograder.rebuild uses it; see there for what counts as damage.
"""
import json
import re
from collections import Counter

from nbformat import validator

ID_PATTERN = re.compile(r"[a-zA-Z0-9_-]{1,64}")  # a valid nbformat 4.5 cell id (fullmatch)
SURROGATE = re.compile("[\ud800-\udfff]")
SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")  # decoded text holds surrogates only as escapes
CELL_TYPES = ("code", "markdown", "raw")
CODE_KEYS = ("outputs", "execution_count", "input", "prompt_number")  # a cell with these runs code

# per-cell damage: kind -> sentence (see counted)
CELL_DAMAGE = {
    "not_a_cell": "{n} entr{y|ies} of the cell list {was|were} not a cell and {was|were} skipped",
    "cell_type": "{n} cell{|s} had a missing or unknown cell type, guessed from {its|their} content",
    "source": "the source of {n} cell{|s} was not text (null, a number or an object) and was read as text",
    "id": "{n} cell id{|s} {was|were} invalid or repeated and {was|were} replaced",
}


class UnreadableNotebook(Exception):
    """The bytes hold no notebook at all; the message is a plain sentence for the student."""


def read_cells(data):
    """
    Recover the cells of a submitted .ipynb file, whatever damage it has.

    Inputs:
    - data: the raw bytes of the file.

    Returns a tuple of:
    - cells: list of dicts, in file order, with keys cell_type ("code", "markdown" or
      "raw"), source (str), grade_id (str or None), nbgrader (the cell's nbgrader
      metadata as found: None when absent, possibly not a dict) and id (str, or None when
      missing, invalid or repeated).
    - notes: list of short sentences, one per kind of damage found (empty: none).

    Raises UnreadableNotebook when the bytes are empty, not JSON, or hold no cells.
    """
    notes = []
    text = _decode(bytes(data), notes)
    notebook = _parse(text)
    surrogates = _replace_surrogates(notebook) if SURROGATE_ESCAPE.search(text) else 0
    if surrogates:
        notes.append(counted("{n} lone surrogate character{|s} (broken text) {was|were} replaced with \ufffd",
                             surrogates))
    raw_cells, version_notes = _raw_cells(notebook)
    notes += version_notes
    damage = Counter()
    cells = [_read_cell(raw, damage) for raw in raw_cells]
    cells = [cell for cell in cells if cell is not None]
    _check_ids(cells, damage)
    notes += [counted(CELL_DAMAGE[kind], damage[kind]) for kind in CELL_DAMAGE if damage[kind]]
    if not cells:
        raise UnreadableNotebook("The notebook file contains no cells.")
    if not notes:
        notes += _schema_problems(notebook)
    return cells, notes


def _decode(data, notes):
    """The text of the file (any Unicode encoding JSON allows, with or without a BOM)."""
    if not data.strip():
        raise UnreadableNotebook("The notebook file is empty.")
    encoding = json.detect_encoding(data)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        text = data.decode(encoding, errors="replace")
        notes.append("some bytes of the file were not valid text and were replaced with \ufffd")
    name = encoding.upper().replace("-SIG", "").replace("-LE", "").replace("-BE", "")
    if name != "UTF-8":
        notes.append(f"the file was saved as {name} instead of UTF-8")
    if encoding == "utf-8-sig" or text.startswith("\ufeff"):
        notes.append("the file started with a byte-order mark")
    return text.lstrip("\ufeff")


def _parse(text):
    """The JSON object of the file."""
    try:
        notebook = json.loads(text)
    except (ValueError, RecursionError):
        raise UnreadableNotebook("The notebook file is not a Jupyter notebook (it is not valid JSON).") from None
    if not isinstance(notebook, dict):
        raise UnreadableNotebook("The notebook file is not a Jupyter notebook (it holds no cells).")
    return notebook


def _replace_surrogates(root):
    """Replace lone surrogates in every string (keys too) of a JSON value, in place; returns how many."""
    count, stack = 0, [root]
    while stack:
        node = stack.pop()
        for key, value in list(node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(value, str):
                value, n = SURROGATE.subn("\ufffd", value)
                count += n
                node[key] = value
            elif isinstance(value, (dict, list)):
                stack.append(value)
            if isinstance(key, str) and SURROGATE.search(key):
                fixed, n = SURROGATE.subn("\ufffd", key)
                count += n
                node[fixed] = node.pop(key)
    return count


def _raw_cells(notebook):
    """The cell list (format 4) or the worksheets' cells (format 3), and notes on the version."""
    version, minor = notebook.get("nbformat"), notebook.get("nbformat_minor")
    cells = notebook.get("cells")
    worksheets = notebook.get("worksheets")
    if not isinstance(cells, list) and isinstance(worksheets, list):
        cells = [c for sheet in worksheets if isinstance(sheet, dict)
                 for c in (sheet.get("cells") if isinstance(sheet.get("cells"), list) else [])]
        expected = 3
        notes = ["the notebook was in the old format 3 and was converted"]
    else:
        expected, notes = 4, []
    if not isinstance(cells, list):
        raise UnreadableNotebook("The notebook file is not a Jupyter notebook (it holds no cells).")
    if not _is_int(version) or version != expected or (expected == 4 and not (_is_int(minor) and minor >= 0)):
        notes.append(f"the notebook's format version was damaged (nbformat {_short(version)}, "
                     f"nbformat_minor {_short(minor)}) and was read as version {expected}")
    return cells, notes


def _read_cell(raw, damage):
    """One cell as a plain dict, counting its damage; None when it is not a cell at all."""
    if not isinstance(raw, dict):
        damage["not_a_cell"] += 1
        return None
    metadata = raw.get("metadata") if isinstance(raw.get("metadata"), dict) else {}
    nbgrader = metadata.get("nbgrader")
    grade_id = nbgrader.get("grade_id") if isinstance(nbgrader, dict) else None
    grade_id = grade_id.strip() if isinstance(grade_id, str) and grade_id.strip() else None
    return {"cell_type": _cell_type(raw, damage), "source": _source(raw, damage),
            "grade_id": grade_id, "nbgrader": nbgrader, "id": raw.get("id"),
            "attachments": _attachments(raw)}


def _attachments(raw):
    """The images attached to a markdown cell ({name: {mime: base64 text}}), PNG and JPEG only;
    anything else attached is dropped (autograder.sanitize checks the bytes again)."""
    found = raw.get("attachments")
    if not isinstance(found, dict):
        return {}
    kept = {}
    for name, bundle in found.items():
        if isinstance(name, str) and isinstance(bundle, dict):
            images = {mime: data for mime, data in bundle.items()
                      if mime in ("image/png", "image/jpeg") and isinstance(data, str)}
            if images:
                kept[name] = images
    return kept


def _cell_type(raw, damage):
    """code, markdown or raw; a missing or unknown type is guessed (code if it has code fields)."""
    kind = raw.get("cell_type")
    if kind in CELL_TYPES:
        return kind
    if kind == "heading" and "input" not in raw:  # format 3 headings are markdown
        return "markdown"
    damage["cell_type"] += 1
    return "code" if any(key in raw for key in CODE_KEYS) else "markdown"


def _source(raw, damage):
    """The cell's text: source (or format 3's input) as a string or a list of strings."""
    value = raw["source"] if "source" in raw else raw.get("input", "")
    if isinstance(value, str):
        text = value
    elif isinstance(value, list) and all(isinstance(line, str) for line in value):
        text = "".join(value)
    else:
        damage["source"] += 1
        parts = value if isinstance(value, list) else [value]
        text = "".join(p if isinstance(p, str) else "" if p is None else _number_text(p) for p in parts)
    if raw.get("cell_type") == "heading" and "input" not in raw:
        level = raw.get("level") if _is_int(raw.get("level")) and 0 < raw.get("level") < 7 else 1
        text = "#" * level + " " + text
    return text


def _number_text(value):
    """Text of a number or other JSON value that should have been a string."""
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def _check_ids(cells, damage):
    """Keep only valid, unique cell ids (others become None); missing ids are not damage."""
    counts = Counter(c["id"] for c in cells if isinstance(c["id"], str))
    for cell in cells:
        value = cell["id"]
        if value is None:
            continue
        if not isinstance(value, str) or not ID_PATTERN.fullmatch(value) or counts[value] > 1:
            damage["id"] += 1
            cell["id"] = None


def _schema_problems(notebook):
    """A note when the notebook breaks the nbformat 4 schema (type errors the reader looked past)."""
    try:
        validator.get_validator(version=4, version_minor=min(notebook.get("nbformat_minor"), 5)).validate(notebook)
        return []
    except Exception as error:  # a ValidationError, or anything the validator trips on
        problem = str(error).removeprefix("data.").split("\n")[0][:100]
    if "exactly by one definition" in problem:   # fastjsonschema's words for "no cell type fits"
        problem = problem.split(" must")[0] + " is not a valid cell"
    return [f"the notebook file did not follow the notebook format ({problem})"]


def counted(template, n):
    """A sentence about n things: "{n}" is replaced by n and "{one|many}" by the right word."""
    return re.sub(r"\{([^{}|]*)\|([^{}]*)\}", lambda m: m[1] if n == 1 else m[2], template.replace("{n}", str(n)))


def _short(value):
    """A short repr of a JSON value, for a note."""
    if isinstance(value, (dict, list)):
        return "a list" if isinstance(value, list) else "an object"
    text = json.dumps(value)
    return text if len(text) <= 20 else text[:17] + "..."


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)
