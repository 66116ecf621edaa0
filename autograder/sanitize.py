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
import functools
import html
import json
import mimetypes
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.marking import GRADERS_ONLY

# outputs keep text/plain and these images (checked by their first bytes)
IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
# a removed output shows its source as text, the most readable kind first
TEXT_PREFERENCE = ("text/html", "text/markdown", "text/latex", "image/svg+xml", "application/javascript",
                   "application/json")
MAX_TEXT = 20_000  # characters of a removed output shown as text

WRAPPER_CLASS = "normlab-sanitized"
WRAPPER = (f'<div class="{WRAPPER_CLASS}">', "</div>")

ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "cite", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "input", "kbd", "li", "mark", "ol",
    "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong", "sub", "summary", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "var",
})
SAFE_LINK_SCHEMES = ("http", "https", "mailto")
SAFE_IMAGE_DATA = ("data:image/png;base64,", "data:image/jpeg;base64,", "data:image/gif;base64,")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif")
CSS = CSSSanitizer(allowed_css_properties=["text-align"])

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
# URLs and attributes


def _plain_url(value):
    """A URL as a browser reads its scheme: without control characters or spaces, lower case."""
    return "".join(ch for ch in value if ord(ch) > 32 and ord(ch) != 127).lower()


def _scheme(url):
    """The scheme of a (plain) URL, or '' for a relative one."""
    head = re.split(r"[/?#]", url, maxsplit=1)[0]
    return head.split(":", 1)[0] if ":" in head else ""


def safe_link(value):
    """A link target a grader may follow: http(s), mailto, a fragment or a relative path."""
    url = _plain_url(value)
    scheme = _scheme(url)
    return scheme in SAFE_LINK_SCHEMES if scheme else True


def safe_image(value):
    """An image source that loads nothing active: an embedded PNG/JPEG/GIF, or an image file
    of the submission's own folder."""
    url = _plain_url(value)
    if url.startswith(SAFE_IMAGE_DATA):
        return True
    if _scheme(url) or url.startswith(("/", "\\")) or any(c in url for c in "?#\\"):
        return False
    return ".." not in url.split("/") and url.endswith(IMAGE_SUFFIXES)


def _allowed_attribute(tag, name, value):
    if name == "title" and tag in ("a", "img", "abbr"):
        return True
    if tag == "a":
        return (name == "href" and safe_link(value)) or (name == "class" and value == "anchor-link")
    if tag == "img":
        return ((name == "src" and safe_image(value)) or name == "alt"
                or (name in ("width", "height") and value.isdigit()))
    if tag in ("th", "td"):
        return name == "style" or (name in ("colspan", "rowspan") and value.isdigit())
    if tag == "input":
        return ((name == "type" and value == "checkbox") or name in ("checked", "disabled")
                or (name == "class" and value == "task-list-item-checkbox"))
    if name == "class":
        if tag == "span":  # pygments' token classes
            return all(re.fullmatch(r"[a-z][a-z0-9]{0,3}", token) for token in value.split())
        if tag == "code":
            return re.fullmatch(r"language-[A-Za-z0-9_+\-]{1,30}", value) is not None
        if tag == "div":
            return value in ("highlight", WRAPPER_CLASS)
        return tag == "li" and value == "task-list-item"
    return (tag == "ol" and name == "start" and value.isdigit()) or (tag == "details" and name == "open")


def clean_html(fragment):
    """An HTML fragment with only allowed tags, attributes and URLs; other tags show as text."""
    return bleach.clean(fragment, tags=ALLOWED_TAGS, attributes=_allowed_attribute,
                        protocols=[*SAFE_LINK_SCHEMES, "data"], strip=False, strip_comments=True,
                        css_sanitizer=CSS)


# ---------------------------------------------------------------------------------------
# markdown


class _InspectingRenderer(IPythonRenderer):
    """nbconvert's markdown renderer (as the templates use it), noting what is not safe as is."""

    def __init__(self, attachments):
        super().__init__(escape=False, attachments=attachments)
        self.unsafe = []

    def block_html(self, html_text):
        self.unsafe.append("raw HTML")
        return super().block_html(html_text)

    def inline_html(self, html_text):
        self.unsafe.append("raw HTML")
        return super().inline_html(html_text)

    def link(self, text, url, title=None):
        if not safe_link(url):
            self.unsafe.append(f"link {url[:40]!r}")
        return super().link(text, url, title)

    def image(self, text, url, title=None):
        name = url[len("attachment:"):] if url.startswith("attachment:") else None
        if name is not None and name not in self.attachments:
            self.unsafe.append(f"missing attachment {name[:40]!r}")  # nbconvert would fail
            return html.escape(f"[image {name} not attached]")
        result = super().image(text, url, title)
        if name is None and not safe_image(url):
            self.unsafe.append(f"image {url[:40]!r}")
        return result

    def block_code(self, code, info=None):
        if info and info.strip().startswith("mermaid"):
            self.unsafe.append("mermaid block")  # nbconvert inserts its text unescaped
            return super().block_code(code, info="text")
        return super().block_code(code, info)


def as_code_block(text):
    """Markdown showing text verbatim: a fenced block, its fence longer than any run of
    backticks in the text."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", text)), default=0))
    return f"{fence}text\n{text}\n{fence}"


def _one_line(fragment):
    """Cleaned HTML without line breaks: a space where a line break is only white space, a
    character reference inside <pre>."""
    fragment = fragment.replace("\r\n", "\n").replace("\r", "\n")
    parts, depth, last = [], 0, 0
    for tag in re.finditer(r"<pre\b[^>]*>|</pre>", fragment):  # real tags: bleach escapes any "<" in text
        parts += [fragment[last:tag.start()].replace("\n", "&#10;" if depth else " "), tag.group(0)]
        depth = max(depth - 1, 0) if tag.group(0) == "</pre>" else depth + 1
        last = tag.end()
    parts.append(fragment[last:].replace("\n", "&#10;" if depth else " "))
    return "".join(parts)


def sanitize_markdown(source, attachments=None):
    """Return (markdown, problems): the source itself when it renders safely, else its cleaned
    rendering as one HTML block; problems says what was not safe."""
    safe, problems = _sanitized_markdown(source, json.dumps(attachments or {}, sort_keys=True))
    return safe, list(problems)


@functools.lru_cache(maxsize=2048)
def _sanitized_markdown(source, attachments_json):
    """sanitize_markdown for hashable inputs: the released notebook's text repeats in every
    submission, so a grading process renders it once."""
    attachments = json.loads(attachments_json)
    renderer = _InspectingRenderer(attachments)
    rendered = MarkdownWithMath(renderer=renderer).render(source)
    if not renderer.unsafe:
        return source, ()
    if source.startswith(WRAPPER[0]) and _one_line(clean_html(source)) == source:
        return source, ()  # made safe before: markdown passes one HTML line through unchanged
    # one line: a blank line would end the HTML block and hand the rest back to markdown
    safe = WRAPPER[0] + _one_line(clean_html(rendered).strip()) + WRAPPER[1]
    return safe, tuple(dict.fromkeys(renderer.unsafe))


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


class _VisibleText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style") and self.skip > 0

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def _as_text(mime, value):
    """What a removed output said, as plain text."""
    text = _text(value)
    if mime == "text/html":
        parser = _VisibleText()
        parser.feed(text)
        parser.close()
        shown = "".join(parser.parts).strip()
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
            clean["source"], problems = sanitize_markdown(source, attachments)
            if problems:
                notes.append(f"cell {index}: markdown shown as cleaned HTML ({', '.join(problems[:4])})")
        else:  # a raw cell (or an unknown kind) shows as a block of text
            clean.update(cell_type="markdown", source=as_code_block(source))
            notes.append(f"cell {index}: raw cell shown as a block of text")
        cells.append(nbformat.from_dict(clean))
    notebook["cells"] = cells
    return notes


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
