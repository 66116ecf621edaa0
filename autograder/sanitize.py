"""Submissions shown without running the student's HTML or JavaScript.

Formgrader and `nbgrader generate_feedback` render a graded notebook with nbconvert's HTML
exporter and nbgrader's own templates, which put markdown cells through unsanitised markdown
(raw HTML, `javascript:` links and mermaid blocks pass straight through) and insert rich outputs
as they are. A notebook made safe here shows graders and students what the student wrote and
computed, and nothing of it can run:

- code outputs keep text/plain, PNG and JPEG only (checked to be images); any other kind (HTML,
  JavaScript, SVG, markdown, LaTeX, widgets, ...) is shown by its text/plain, or by its source as
  plain text when it has none; output metadata keeps image sizes only;
- markdown that holds raw HTML, an unsafe link or image, a mermaid block or a missing attachment
  is replaced by its rendering cleaned with bleach (an allow list of tags, attributes and URL
  schemes; what is not allowed shows as text), as one HTML block that markdown leaves alone;
  other markdown is kept as written;
- attachments keep PNG and JPEG images; raw cells become blocks of text; cell and notebook
  metadata keep what nbgrader, the templates and autograder.feedback need, checked.

`SanitizeNotebook` runs this inside every HTML export configured by nbgrader_config.py
(formgrader's pages and the feedback); `sanitize_notebook` / `sanitize_file` clean a notebook
before it is stored, and `sanitize_folder` renames the files formgrader would serve as active
content (HTML, SVG, XML, ...) to plain text.
"""
import base64
import html
import json
import mimetypes
import re
import uuid
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.marking import GRADERS_ONLY
from autograder.safe_html import as_code_block, is_sanitized, sanitize_markdown

# outputs keep text/plain and these images (checked by their first bytes)
IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
# a removed output shows its source as text, the most readable kind first
TEXT_PREFERENCE = ("text/html", "text/markdown", "text/latex", "image/svg+xml", "application/javascript",
                   "application/json")
MAX_TEXT = 20_000  # characters of a removed output shown as text
# Markdown rendered (longer cells, and cells past the notebook's budget, show as text): the
# parser needs up to ~9 s of CPU and ~600 MB of memory per MB of some text (emphasis in a row),
# in the grading process. The release's longest markdown cell has ~1,900 characters, all ~15,000.
MAX_MARKDOWN_CHARS = 20_000
MARKDOWN_BUDGET = 100_000

# cell metadata kept (checked): nbgrader's, the course's marker of cells only graders see
# (autograder.marking; the feedback leaves those cells out), and the editor's flags
CELL_METADATA = ("nbgrader", GRADERS_ONLY, "tags", "deletable", "editable", "collapsed", "scrolled")
NBGRADER_FLAGS = ("grade", "solution", "locked", "task")
GRADE_ID = re.compile(r"[A-Za-z0-9_\-]{1,128}")
CELL_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
TAG = re.compile(r"[\w\-.:]{1,64}")
# what IPython's display objects (HTML, Javascript, SVG, ...) give as their text/plain
IPYTHON_REPR = re.compile(r"<IPython\.(core\.)?display\.\w+ object>")

# Files formgrader may serve from a submission folder (by guessed type); others become .txt.
SAFE_FILE_TYPES = frozenset({
    None, "application/octet-stream", "text/plain", "text/markdown", "text/csv", "text/tab-separated-values",
    "text/x-python", "application/json", "application/x-ipynb+json", "image/png", "image/jpeg",
    "image/gif", "application/zip", "application/gzip", "application/x-tar",
})


# ---------------------------------------------------------------------------------------
# outputs, attachments, metadata


def _text(value):
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, indent=1, default=str)


def _image(mime, value):
    """The base64 text of a real PNG/JPEG image, or None."""
    text = "".join(_text(value).split())
    try:
        data = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None
    return text if data.startswith(IMAGE_MAGIC[mime]) else None


# an HTML comment, or a tag (to its end or the text's end): every match moves on, so one pass is
# linear (Python's html.parser can take quadratic time: 100 KB of "<a b='" took 44 s)
_MARKUP = re.compile(r"<!--.*?(?:-->|\Z)|<(/?)([A-Za-z][^\s/>]*)[^>]*>?", re.S)


def _visible_text(fragment):
    """The text an HTML fragment shows: tags and comments removed, and the insides of <script>
    and <style>; character references decoded."""
    parts, skipping, last = [], None, 0
    for markup in _MARKUP.finditer(fragment):
        if skipping is None:
            parts.append(fragment[last:markup.start()])
        closing, tag = markup.group(1), (markup.group(2) or "").lower()
        if skipping is None and not closing and tag in ("script", "style"):
            skipping = tag
        elif skipping == tag and closing:
            skipping = None
        last = markup.end()
    if skipping is None:
        parts.append(fragment[last:])
    return html.unescape("".join(parts))


def _as_text(mime, value):
    """What a removed output said, as plain text."""
    text = _text(value)
    if mime == "text/html":
        shown = _visible_text(text).strip()
        text = shown if shown else text
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "\n[...]"


def _size(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)) and 0 < value < 100_000:
        return int(value)
    if isinstance(value, str) and value.isdigit() and 0 < int(value) < 100_000:
        return int(value)
    return None


def sanitize_output(output):
    """An output that renders as text or as a PNG/JPEG image (a new dict)."""
    kind = output.get("output_type")
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return {"output_type": "stream", "name": name, "text": _text(output.get("text", ""))}
    if kind == "error":
        return {"output_type": "error", "ename": _text(output.get("ename", "")),
                "evalue": _text(output.get("evalue", "")),
                "traceback": [_text(line) for line in output.get("traceback") or []]}
    if kind not in ("display_data", "execute_result"):
        return {"output_type": "stream", "name": "stdout", "text": f"[an output of type {str(kind)[:40]} is not shown]\n"}
    data, metadata, removed = {}, {}, []
    for mime, value in (output.get("data") or {}).items():
        if mime == "text/plain":
            data[mime] = _text(value)
        elif mime in IMAGE_MAGIC and _image(mime, value):
            data[mime] = _image(mime, value)
            sizes = (output.get("metadata") or {}).get(mime)
            sizes = sizes if isinstance(sizes, dict) else {}
            kept = {key: _size(sizes.get(key)) for key in ("width", "height") if _size(sizes.get(key))}
            if kept:
                metadata[mime] = kept
        else:
            removed.append((mime, value))
    plain = data.get("text/plain")
    # an output removed shows its source, unless it has a text of its own (not IPython's
    # "<IPython.core.display.HTML object>", which says nothing)
    if removed and (plain is None or IPYTHON_REPR.fullmatch(plain.strip())):
        kinds = ", ".join(sorted(str(mime)[:60] for mime, _ in removed))
        readable = sorted((item for item in removed if item[0] not in IMAGE_MAGIC),
                          key=lambda item: TEXT_PREFERENCE.index(item[0]) if item[0] in TEXT_PREFERENCE else 99)
        data["text/plain"] = (f"[{kinds} output not shown: only text, PNG and JPEG outputs are displayed]\n"
                              + (_as_text(*readable[0]) if readable else ""))
    result = {"output_type": kind, "data": data, "metadata": metadata}
    if kind == "execute_result":
        count = output.get("execution_count")
        result["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
    return result


def sanitize_attachments(attachments):
    """Attachments with their PNG and JPEG images only (names with nothing left are dropped)."""
    kept = {}
    for name, bundle in (attachments or {}).items():
        if not isinstance(name, str) or not isinstance(bundle, dict):
            continue
        images = {mime: _image(mime, value) for mime, value in bundle.items() if mime in IMAGE_MAGIC}
        images = {mime: value for mime, value in images.items() if value}
        if images:
            kept[name] = images
    return kept


def _nbgrader_metadata(meta):
    if not isinstance(meta, dict) or not GRADE_ID.fullmatch(str(meta.get("grade_id", ""))):
        return None
    kept = {"grade_id": meta["grade_id"]}
    for key in NBGRADER_FLAGS:
        if isinstance(meta.get(key), bool):
            kept[key] = meta[key]
    for key in ("points", "score"):
        value = meta.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            kept[key] = value
    if isinstance(meta.get("schema_version"), int):
        kept["schema_version"] = meta["schema_version"]
    if meta.get("cell_type") in ("code", "markdown"):
        kept["cell_type"] = meta["cell_type"]
    if isinstance(meta.get("checksum"), str) and re.fullmatch(r"[0-9a-f]{1,128}", meta["checksum"]):
        kept["checksum"] = meta["checksum"]
    if isinstance(meta.get("comment"), str):
        kept["comment"] = sanitize_markdown(meta["comment"])[0]
    return kept


def sanitize_cell_metadata(metadata):
    kept = {}
    for key in CELL_METADATA:
        value = (metadata or {}).get(key)
        if key == "nbgrader":
            value = _nbgrader_metadata(value)
        elif key == "tags":
            value = [tag for tag in value if isinstance(tag, str) and TAG.fullmatch(tag)] if isinstance(value, list) else None
        elif not isinstance(value, bool):
            value = None
        if value is not None:
            kept[key] = value
    return kept


def sanitize_notebook(notebook):
    """Make a notebook (nbformat v4 NotebookNode) safe to render, in place.

    Returns a list of notes, one per cell that changed beyond its metadata.
    """
    import nbformat

    notes = []
    metadata = notebook.get("metadata", {})
    notebook["metadata"] = nbformat.from_dict({key: metadata[key] for key in ("kernelspec", "language_info")
                                               if isinstance(metadata.get(key), dict)})
    seen_ids = set()
    cells = []
    markdown_budget = MARKDOWN_BUDGET
    for index, cell in enumerate(notebook.get("cells", [])):
        kind = cell.get("cell_type")
        source = _text(cell.get("source", ""))
        clean = {"cell_type": kind,
                 "metadata": sanitize_cell_metadata(cell.get("metadata")), "source": source}
        cell_id = cell.get("id")
        if "id" in cell or notebook.get("nbformat_minor", 0) >= 5:
            if not (isinstance(cell_id, str) and CELL_ID.fullmatch(cell_id)) or cell_id in seen_ids:
                cell_id = uuid.uuid4().hex[:12]
            seen_ids.add(cell_id)
            clean["id"] = cell_id
        if kind == "code":
            count = cell.get("execution_count")
            clean["execution_count"] = count if isinstance(count, int) and not isinstance(count, bool) else None
            before = json.dumps(cell.get("outputs", []), sort_keys=True, default=str)
            clean["outputs"] = [sanitize_output(output) for output in cell.get("outputs", [])]
            if json.dumps(clean["outputs"], sort_keys=True) != before:
                notes.append(f"cell {index}: outputs reduced to text and PNG/JPEG images")
        elif kind == "markdown":
            attachments = sanitize_attachments(cell.get("attachments"))
            if attachments:
                clean["attachments"] = attachments
            if attachments != (cell.get("attachments") or {}):
                notes.append(f"cell {index}: attachments other than PNG/JPEG images removed")
            if _is_text_block(source) or is_sanitized(source):  # sanitised before: as it is
                clean["source"] = source
            elif len(source) > min(MAX_MARKDOWN_CHARS, markdown_budget):
                clean["source"] = as_code_block(source)
                notes.append(f"cell {index}: markdown of {len(source):,} characters shown as text (markdown is "
                             f"rendered up to {MAX_MARKDOWN_CHARS:,} characters a cell, {MARKDOWN_BUDGET:,} a notebook)")
            else:
                markdown_budget -= len(source)
                clean["source"], problems = sanitize_markdown(source, attachments)
                if problems:
                    notes.append(f"cell {index}: markdown shown as cleaned HTML ({', '.join(problems[:4])})")
        else:  # a raw cell (or an unknown kind) shows as a block of text
            clean.update(cell_type="markdown", source=as_code_block(source))
            notes.append(f"cell {index}: raw cell shown as a block of text")
        cells.append(nbformat.from_dict(clean))
    notebook["cells"] = cells
    return notes


def _is_text_block(source):
    """Whether markdown is exactly a block of text made by as_code_block."""
    fence = source.split("\n", 1)[0][:-len("text")]
    return (fence.startswith("```") and set(fence) == {"`"} and source.endswith("\n" + fence)
            and source == as_code_block(source[len(fence) + len("text\n"):-len(fence) - 1]))


def sanitize_file(path):
    """Sanitise a notebook file in place (keeping its permissions); returns the notes."""
    import nbformat

    path = Path(path)
    notebook = nbformat.read(str(path), as_version=4)
    notes = sanitize_notebook(notebook)
    mode = path.stat().st_mode
    path.chmod(mode | 0o200)
    try:
        nbformat.write(notebook, str(path))
    finally:
        path.chmod(mode)
    return notes


def sanitize_folder(folder):
    """Rename every file of a graded submission folder that a browser would run or render as a
    page (by its guessed type: HTML, SVG, XML, JavaScript, PDF, ...) to <name>.txt.

    Formgrader serves the files of autograded/<student>/<assignment>/ on its own origin
    (/formgrader/submissions/<id>/<file>) without a sandbox. Returns the renamed paths.
    """
    renamed = []
    for path in sorted(Path(folder).rglob("*")):
        if path.is_symlink():
            path.unlink()
            renamed.append(path)
            continue
        if not path.is_file():
            continue
        kind, encoding = mimetypes.guess_type(path.name)
        if kind in SAFE_FILE_TYPES or encoding is not None:  # a compressed file is a download
            continue
        target = path.with_name(path.name + ".txt")
        while target.exists():
            target = target.with_name("_" + target.name)
        path.rename(target)
        renamed.append(path)
    return renamed


class SanitizeNotebook(Preprocessor):
    """nbconvert preprocessor: sanitize_notebook before a notebook is rendered.

    Put it last in HTMLExporter.preprocessors (nbgrader_config.py): formgrader and
    generate_feedback then render only what sanitize_notebook keeps.
    """

    enabled = Bool(True, help="Sanitise every notebook this exporter renders.").tag(config=True)

    def preprocess(self, nb, resources):
        for note in sanitize_notebook(nb):
            self.log.debug("sanitize: %s", note)
        return nb, resources
