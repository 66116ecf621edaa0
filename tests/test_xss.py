"""A student's notebook must never run HTML or JavaScript where it is shown to graders or students.

A hostile submission carries payloads in every place a notebook can hold HTML: written answers,
extra markdown and raw cells, attachments, cell and output metadata, and every rich output type
its code can display while it is graded. Each payload, if it ran, would call
fetch('/xss-marker/<name>') or set document.title. The checks parse the HTML that reaches a
browser (nbgrader's feedback, formgrader's page served by a real Jupyter server) and fail on
anything executable the templates did not put there themselves.
"""
import base64
import copy
import html
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

from autograder import marking, safe_html, sanitize

REPO = Path(__file__).resolve().parent.parent
RELEASE = REPO / "release" / "normalization" / "normalization.ipynb"
STUDENT = "mallory"

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")


def _b64(text):
    return base64.b64encode(text.encode()).decode()


def _fetch(name):
    return f"fetch('/xss-marker/{name}')"


# ---------------------------------------------------------------------------------------
# the payloads

# Markdown a student writes (answer cells and cells of their own), each with its marker name.
MARKDOWN = {
    "md-script": "<script>document.title='XSS-md-script'</script>",
    "md-script-mixed-case": f"<ScRiPt>{_fetch('md-script-mixed-case')}</sCrIpT>",
    "md-img-onerror": f'<img src=x onerror="{_fetch("md-img-onerror")}">',
    "md-svg-onload": f'<svg onload="{_fetch("md-svg-onload")}"></svg>',
    "md-svg-script": f'<svg><script>{_fetch("md-svg-script")}</script></svg>',
    "md-iframe-js": f'<iframe src="javascript:{_fetch("md-iframe-js")}"></iframe>',
    "md-iframe-srcdoc": f'<iframe srcdoc="&lt;script&gt;parent.{_fetch("md-iframe-srcdoc")}&lt;/script&gt;"></iframe>',
    "md-object": f'<object data="data:text/html;base64,{_b64("<script>" + _fetch("md-object") + "</script>")}"></object>',
    "md-embed": f'<embed src="data:text/html;base64,{_b64("<script>" + _fetch("md-embed") + "</script>")}">',
    "md-js-link": f"[click me](javascript:{_fetch('md-js-link')})",
    "md-js-autolink": f"<javascript:{_fetch('md-js-autolink')}>",
    "md-js-link-raw": f'<a href="  JaVaScRiPt:{_fetch("md-js-link-raw")}">raw link</a>',
    "md-js-link-entity": f'<a href="&#106;avascript:{_fetch("md-js-link-entity")}">entity link</a>',
    "md-js-link-tab": f'<a href="java\tscript:{_fetch("md-js-link-tab")}">tab link</a>',
    "md-js-image": f"![img](javascript:{_fetch('md-js-image')})",
    "md-data-link": f"[data link](data:text/html;base64,{_b64('<script>' + _fetch('md-data-link') + '</script>')})",
    "md-style-tag": "<style>@import url('/xss-marker/md-style-tag'); body { display: none }</style>",
    "md-style-attr": ('<div style="background-image:url(\'/xss-marker/md-style-attr\');position:fixed;'
                      'top:0;left:0;width:100%;height:100%">overlay</div>'),
    "md-details-ontoggle": f'<details open ontoggle="{_fetch("md-details-ontoggle")}">x</details>',
    "md-form": f'<form action="javascript:{_fetch("md-form")}"><button>Save grade</button></form>',
    "md-input-autofocus": f'<input autofocus onfocus="{_fetch("md-input-autofocus")}">',
    "md-base-href": '<base href="https://xss-marker.invalid/md-base-href/">',
    "md-meta-refresh": f'<meta http-equiv="refresh" content="0;url=javascript:{_fetch("md-meta-refresh")}">',
    "md-link-stylesheet": '<link rel="stylesheet" href="/xss-marker/md-link-stylesheet">',
    "md-mxss-math": f'<math><mtext><table><mglyph><style><img src=x onerror="{_fetch("md-mxss-math")}">',
    "md-mxss-noscript": f'<noscript><p title="</noscript><img src=x onerror={_fetch("md-mxss-noscript")}>">',
    "md-comment-breakout": f'<!--><img src=x onerror="{_fetch("md-comment-breakout")}">-->',
    "md-mermaid-block": f"```mermaid\n<img src=x onerror=\"{_fetch('md-mermaid-block')}\">\n```",
    "md-heading": f"## Heading <img src=x onerror=\"{_fetch('md-heading')}\">",
    "md-mathjax-href": f"$\\href{{javascript:{_fetch('md-mathjax-href')}}}{{click}}$",
    "md-mathjax-unicode": f"$\\unicode{{<img src=x onerror={_fetch('md-mathjax-unicode')}>}}$",
    "md-mathjax-style": ("$$\\style{position:fixed;top:0;left:0;width:100%;height:100%}"
                         f"{{\\href{{javascript:{_fetch('md-mathjax-style')}}}{{x}}}}$$"),
    "md-missing-attachment": "![gone](attachment:missing.png)",
}

# Text the graders must still see, rendered (bold, code, math, lists, a table, an image).
HONEST_ANSWER = """Batch norm averages each feature over the **examples of the batch**, like
standardizing a column; layer norm averages over the `D` features of one example, $\\mu_i < 1$.

- first point
- second point

| column | value |
|:-------|------:|
| a      | 1     |

![a small plot](attachment:plot.png)
"""

def _display(data, metadata=None):
    return f"from IPython.display import display\ndisplay({data!r}, raw=True, metadata={metadata or {}!r})"


# Code a student adds: each cell displays one kind of rich output while it is graded.
OUTPUT_CELLS = {
    "out-html-script": _display({"text/html": "<b>visible html text</b><script>document.title='XSS-out-html-script'"
                                              "</script>", "text/plain": "<IPython.core.display.HTML object>"}),
    "out-html-img": ("from IPython.display import HTML\n"
                     f"HTML({'<img src=x onerror=' + chr(34) + _fetch('out-html-img') + chr(34) + '>'!r})"),
    "out-javascript": f"from IPython.display import Javascript, display\ndisplay(Javascript({_fetch('out-javascript')!r}))",
    "out-svg": ("from IPython.display import SVG, display\n"
                f"display(SVG({'<svg xmlns=' + chr(34) + 'http://www.w3.org/2000/svg' + chr(34) + ' onload=' + chr(34) + _fetch('out-svg') + chr(34) + '><script>' + _fetch('out-svg-script') + '</script></svg>'!r}))"),
    "out-markdown": ("from IPython.display import Markdown, display\n"
                     f"display(Markdown({'visible markdown text <img src=x onerror=' + chr(34) + _fetch('out-markdown') + chr(34) + '>'!r}))"),
    "out-latex": ("from IPython.display import Latex, display\n"
                  f"display(Latex({'$' + chr(92) + 'href{javascript:' + _fetch('out-latex') + '}{x}$ <img src=x onerror=' + _fetch('out-latex-img') + '>'!r}))"),
    "out-html-isolated": _display({"text/html": f"<script>{_fetch('out-html-isolated')}</script>", "text/plain": "isolated"},
                                  {"text/html": {"isolated": True}}),
    "out-widget-view": _display({"application/vnd.jupyter.widget-view+json": {
        "model_id": f"</script><script>{_fetch('out-widget-view')}</script>", "version_major": 2, "version_minor": 0},
        "text/plain": "widget"}),
    "out-png-metadata": _display({"image/png": PNG, "text/plain": "png with metadata"},
                                 {"image/png": {"width": "1 onerror=fetch(`/xss-marker/out-png-metadata`)",
                                                "height": '1" onload="fetch(`/xss-marker/out-png-metadata-height`)'},
                                  "filenames": {"image/png": "javascript:fetch(`/xss-marker/out-png-filenames`)"}}),
    "out-png-broken": _display({"image/png": '" onerror="fetch(`/xss-marker/out-png-broken`)', "text/plain": "broken png"}),
    "out-mermaid": _display({"text/vnd.mermaid": f'graph TD; A-->B; click A href "javascript:{_fetch("out-mermaid")}"',
                             "text/plain": "mermaid"}),
    "out-custom-mime": _display({"application/x-evil+html": f"<script>{_fetch('out-custom-mime')}</script>"}),
    "out-json": _display({"application/json": {"a": f"</script><script>{_fetch('out-json')}</script>"},
                          "text/plain": "json"}),
    "out-stream": f"print({'<script>' + _fetch('out-stream') + '</script> printed text'!r})",
    "out-error": f"raise ValueError({'<img src=x onerror=' + chr(34) + _fetch('out-error') + chr(34) + '>'!r})",
    "out-image": f"from IPython.display import Image, display\ndisplay(Image(data=bytes.fromhex({base64.b64decode(PNG).hex()!r})))",
}

ATTACHMENTS = {
    "plot.png": {"image/png": PNG},
    "evil.svg": {"image/svg+xml": _b64('<svg xmlns="http://www.w3.org/2000/svg" onload="'
                                       + _fetch("att-svg") + '"><script>' + _fetch("att-svg-script")
                                       + "</script></svg>")},
    "evil.html": {"text/html": _b64("<script>" + _fetch("att-html") + "</script>")},
    "mixed.png": {"text/html": _b64("<script>" + _fetch("att-mixed") + "</script>"), "image/png": PNG},
}

EXTRA_FILES = {
    "evil.html": f"<script>{_fetch('file-html')}</script>",
    "evil.svg": f'<svg xmlns="http://www.w3.org/2000/svg"><script>{_fetch("file-svg")}</script></svg>',
    "evil.xml": '<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">'
                + _fetch("file-xml") + "</x:script>",
    "notes.txt": "plain notes",
}


# Payloads also written into a graded answer (the rest only in cells of the student's own).
IN_ANSWER = ("md-script-mixed-case", "md-img-onerror", "md-svg-onload", "md-iframe-js", "md-js-link",
             "md-style-tag", "md-details-ontoggle", "md-heading", "md-mathjax-href")


def hostile_notebook():
    """The release notebook with payloads everywhere a student can put them."""
    notebook = nbformat.read(str(RELEASE), as_version=4)
    for cell in notebook.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id == "preprocessing_justification":
            cell.source = HONEST_ANSWER + "\n\n" + "\n\n".join(MARKDOWN[name] for name in IN_ANSWER)
            cell["attachments"] = copy.deepcopy(ATTACHMENTS)
        elif grade_id == "batchsize_explanation":
            cell.source = "My explanation, in plain words.\n\n" + MARKDOWN["md-script"]
    extra = [nbformat.v4.new_markdown_cell(f"Cell {name}:\n\n{payload}") for name, payload in MARKDOWN.items()]
    attached = nbformat.v4.new_markdown_cell("Attachments: ![s](attachment:evil.svg) ![h](attachment:evil.html) "
                                             "![m](attachment:mixed.png) ![p](attachment:plot.png)")
    attached["attachments"] = copy.deepcopy(ATTACHMENTS)
    attached.metadata["tags"] = ['"><img src=x onerror="fetch(`/xss-marker/cell-tag`)">']
    extra.append(attached)
    raw = nbformat.v4.new_raw_cell(f"<script>{_fetch('raw-cell')}</script><img src=x onerror=\"{_fetch('raw-img')}\">")
    raw.metadata["raw_mimetype"] = "text/html"
    extra.append(raw)
    for name, code in OUTPUT_CELLS.items():
        cell = nbformat.v4.new_code_cell(code)
        cell.metadata["tags"] = [f'x" onmouseover="fetch(`/xss-marker/{name}-tag`)']
        extra.append(cell)
    at = next(i for i, c in enumerate(notebook.cells)
              if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "batchsize_explanation")
    notebook.cells[at:at] = extra
    notebook.metadata["title"] = f"</title><script>{_fetch('nb-title')}</script>"
    notebook.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {
        "state": {}, "version_major": 2, "version_minor": 0,
        "evil": f"</script><script>{_fetch('nb-widgets')}</script>"}}
    return notebook


def write_submission(folder, notebook, files=EXTRA_FILES):
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, str(folder / "normalization.ipynb"))
    for name, text in files.items():
        (folder / name).write_text(text)
    (folder / "timestamp.txt").write_text("2026-12-10 10:00:00 UTC")


# ---------------------------------------------------------------------------------------
# what counts as executable in a page

URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "xlink:href", "poster", "background",
                  "codebase", "ping", "srcset", "lowsrc", "dynsrc", "manifest", "itemtype"}
FORBIDDEN_ELEMENTS = {"iframe", "frame", "frameset", "object", "embed", "applet", "base", "form", "portal",
                      "isindex", "noscript", "template"}
SAFE_DATA_URLS = ("data:image/png;", "data:image/jpeg;", "data:image/gif;")


def _url(value):
    """An attribute URL as a browser reads its scheme: no controls or spaces, lower case."""
    return "".join(ch for ch in (value or "") if ord(ch) > 32 and ord(ch) != 127).lower()


class ExecutableFinder(HTMLParser):
    """Everything in a page that could run script or load active content.

    Scripts, inline handlers and stylesheets the page's templates put there themselves are
    allowed by `trusted` (a predicate on what was found); everything else is a finding.
    """

    def __init__(self, trusted):
        super().__init__(convert_charrefs=True)
        self.trusted = trusted
        self.findings = []
        self._inside = None  # ("script" | "style", attrs, text parts)

    def _find(self, kind, detail):
        if not self.trusted(kind, detail):
            self.findings.append((kind, detail))

    def handle_starttag(self, tag, attrs):
        attrs = [(name.lower(), value or "") for name, value in attrs]
        values = dict(attrs)
        if tag in ("script", "style"):
            self._inside = (tag, values, [])
        if tag in FORBIDDEN_ELEMENTS:
            self._find("element", f"<{tag} {values}>")
        if tag == "meta" and values.get("http-equiv", "").lower() in ("refresh", "set-cookie", "content-security-policy"):
            self._find("element", f"<meta {values}>")
        if tag == "link":
            self._find("link", values.get("href", ""))
        if tag == "svg" or tag == "math":
            self._find("element", f"<{tag}>")
        for name, value in attrs:
            if "xss" in value.lower() and not name.startswith("on"):
                self._find("attribute", f"<{tag} {name}={value[:120]!r}>")  # a payload got into markup
            if name.startswith("on"):
                self._find("handler", f"<{tag} {name}={value!r}>")
            elif name == "srcdoc":
                self._find("attribute", f"<{tag} srcdoc>")
            elif name in URL_ATTRIBUTES:
                url = _url(value)
                if url.startswith(("javascript:", "vbscript:", "livescript:")):
                    self._find("url", f"<{tag} {name}={value!r}>")
                elif url.startswith("data:") and not url.startswith(SAFE_DATA_URLS):
                    self._find("url", f"<{tag} {name}={value[:80]!r}>")
            elif name == "style":
                css = _url(value)
                if "url(" in css or "expression(" in css or "position:fixed" in css or "@import" in css:
                    self._find("style", f"<{tag} style={value!r}>")

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag in ("script", "style"):
            self.handle_endtag(tag)

    def handle_data(self, data):
        if self._inside:
            self._inside[2].append(data)

    def handle_endtag(self, tag):
        if self._inside and tag == self._inside[0]:
            kind, values, parts = self._inside
            self._inside = None
            text = "".join(parts)
            if kind == "script":
                self._find("script", (values.get("src", ""), values.get("type", ""), text))
            elif "@import" in text or "xss-marker" in text or "url(javascript" in _url(text):
                self._find("stylesheet", text[:200])

    def handle_comment(self, data):
        # browsers end a comment at `<!-->` or `--!>` where this parser does not: a tag inside a
        # comment may be live in a browser
        if "<" in data or ">" in data:
            self._find("comment", data[:200])

    def unknown_decl(self, data):
        self._find("declaration", data[:200])


    def close(self):
        super().close()
        if self._inside:  # everything after an unclosed <script>/<style> was hidden from this parser
            self._find("unclosed", f"<{self._inside[0]}>")


def executable_parts(html, trusted=lambda kind, detail: False):
    """The findings of ExecutableFinder in html (empty: nothing student-made can run)."""
    finder = ExecutableFinder(trusted)
    finder.feed(html)
    finder.close()
    return finder.findings


MATHJAX = "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/latest.js?config=TeX-AMS_CHTML-full,Safe"
TEMPLATE_INLINE_SCRIPTS = ("init_mathjax = function()", "var submission_id =", "function toggle_name(",
                           "$('span.glyphicon.name-hidden').tooltip(")


def template_made(kind, detail):
    """What nbconvert's and nbgrader's templates put in a page themselves (nothing a student wrote)."""
    if kind == "script":
        src, _type, text = detail
        if src:
            # MathJax with its Safe extension (no javascript: links, styles or ids from TeX)
            return src == MATHJAX or src.startswith("/formgrader/static/")
        return "xss" not in text.lower() and text.strip().startswith(TEMPLATE_INLINE_SCRIPTS)
    if kind == "handler":  # formgrader's show/hide-names eye icons
        return detail in ("<span onclick='toggle_name(true);'>", "<span onclick='toggle_name(false);'>")
    if kind == "link":
        return detail.startswith("/formgrader/static/")
    return False


def assert_nothing_runs(page, where):
    findings = executable_parts(page, template_made)
    assert not findings, f"{where}: student HTML that could run:\n" + "\n".join(f"  {k}: {str(d)[:200]}" for k, d in findings)
    assert "mathjax" in page.lower() and all(
        "Safe" in tag.get("src", "") for tag in start_tags(page, "script") if "mathjax" in tag.get("src", "").lower()
    ), "MathJax without its Safe extension"


def start_tags(page, name):
    """The attributes of every <name> tag of a page."""
    found = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == name:
                found.append({key: value or "" for key, value in attrs})

    parser = Tags()
    parser.feed(page)
    parser.close()
    return found


class Visible(HTMLParser):
    """The text a reader sees (outside scripts and styles), and the images' sources."""

    def __init__(self, page):
        super().__init__(convert_charrefs=True)
        self.text, self.images, self.strong, self._skip, self._strong = [], [], [], 0, 0
        self.feed(page)
        self.close()
        self.text = "".join(self.text)

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("script", "style")
        self._strong += tag == "strong"
        if tag == "img":
            self.images.append(dict(attrs).get("src") or "")

    def handle_endtag(self, tag):
        self._skip -= tag in ("script", "style") and self._skip > 0
        self._strong -= tag == "strong" and self._strong > 0

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)
            if self._strong:
                self.strong.append(data)


def assert_answers_still_shown(page, images=2):
    """The written answers render as markdown, outputs as text, PNG outputs (and attachments)
    as images."""
    seen = Visible(page)
    assert "examples of the batch" in seen.strong, "the written answer lost its markdown"
    for text in ("standardizing a column", "My explanation, in plain words.", "second point",
                 "visible html text", "visible markdown text", "printed text",
                 "document.title='XSS-md-script'"):  # a removed script shows as text
        assert text in seen.text, f"{text!r} is no longer shown"
    png = f"data:image/png;base64,{PNG}"
    assert seen.images.count(png) >= images, "PNG outputs and PNG attachments must still show as images"


# ---------------------------------------------------------------------------------------
# the graded hostile submission


@pytest.fixture(scope="module")
def graded(module_course):
    """The hostile submission, graded by the real grading command (its feedback included)."""
    write_submission(module_course.submitted / STUDENT / "normalization", hostile_notebook())
    module_course.grade(STUDENT, workers=1)
    return module_course


def autograded_notebook(course_copy):
    return course_copy.root / "autograded" / STUDENT / "normalization" / "normalization.ipynb"


def test_grading_runs_every_payload_cell(graded):
    """Grading ran the student's display calls and kept the written answers: what formgrader
    and the feedback show below holds every payload (as it is, or reduced to text if the
    grading pipeline sanitised it before storing it)."""
    notebook = nbformat.read(str(autograded_notebook(graded)), as_version=4)
    ran = {cell.source for cell in notebook.cells if cell.cell_type == "code" and cell.outputs}
    assert set(OUTPUT_CELLS.values()) <= ran
    text = json.dumps(notebook.cells)
    for marker in ("XSS-md-script", "md-mxss-math", "out-html-script", "out-javascript", "out-svg-script"):
        assert marker in text, marker


@pytest.fixture(scope="module")
def hostile_with_outputs():
    """The hostile notebook as handed in (attachments, metadata, raw cell) with the outputs its
    payload cells really produce (run here in a plain kernel: they only call display)."""
    from nbclient import NotebookClient

    notebook = hostile_notebook()
    payload_cells = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source in OUTPUT_CELLS.values()]
    scratch = nbformat.v4.new_notebook(cells=payload_cells, metadata=copy.deepcopy(notebook.metadata))
    NotebookClient(scratch, timeout=60, kernel_name="python3", allow_errors=True).execute()
    types = {mime for cell in payload_cells for output in cell.outputs for mime in output.get("data", {})}
    assert {"text/html", "application/javascript", "image/svg+xml", "text/markdown", "text/latex",
            "application/vnd.jupyter.widget-view+json", "text/vnd.mermaid", "application/x-evil+html"} <= types
    return notebook


def _render(notebook, template, config=None):
    """nbconvert's HTML export with one of nbgrader's templates, as formgrader or
    generate_feedback set it up (plus config)."""
    import nbgrader
    from nbconvert.exporters import HTMLExporter
    from traitlets.config import Config

    formgrader = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    setup = Config()
    setup.HTMLExporter.template_name = template
    setup.HTMLExporter.extra_template_basedirs = [str(formgrader / "templates")]
    setup.HTMLExporter.extra_template_paths = [str(formgrader / "static" / "node_modules" / "bootstrap" / "dist" / "css")]
    setup.merge(config or Config())
    setup.HTMLExporter.template_name = template
    notebook = copy.deepcopy(notebook)
    for cell in notebook.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata.nbgrader["score"] = 0.0  # as nbgrader's GetGrades leaves it for the feedback
    resources = {"nbgrader": {"notebook": "normalization", "score": 0, "max_score": 1, "late_penalty": 0},
                 "base_url": "", "submission_id": "0123", "notebook_id": "normalization",
                 "assignment_id": "normalization", "index": 0, "total": 1, "student": STUDENT,
                 "notebook_path": "autograded/mallory/normalization/normalization.ipynb"}
    page, _ = HTMLExporter(config=setup).from_notebook_node(notebook, resources=resources)
    return page


def _course_config(course_copy):
    """The course's nbgrader_config.py, loaded as formgrader and nbgrader load it."""
    from traitlets.config.loader import PyFileConfigLoader

    saved = dict(os.environ)
    try:
        return PyFileConfigLoader("nbgrader_config.py", path=str(course_copy.root)).load_config()
    finally:  # the config file names its folder as the course
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.filterwarnings("ignore:Your element with mimetype")
def test_without_the_course_config_the_payloads_would_run(hostile_with_outputs):
    """nbconvert with nbgrader's feedback template and nothing else: the finder sees the payloads."""
    notebook = copy.deepcopy(hostile_with_outputs)
    for cell in notebook.cells:
        # nbconvert stops at a missing attachment, and an unclosed <style> hides the rest of the
        # page from Python's parser (ExecutableFinder reports that, but no more)
        for name in ("md-missing-attachment", "md-mxss-math"):
            cell.source = cell.source.replace(MARKDOWN[name], "")
    with pytest.raises(Exception, match="missing attachment"):
        _render(hostile_with_outputs, "feedback")  # a student could also break every page
    found = " ".join(str(detail) for _, detail in executable_parts(_render(notebook, "feedback"), template_made))
    for marker in ("XSS-md-script", "md-img-onerror", "md-js-link", "md-mermaid-block", "out-html-script",
                   "out-html-img", "out-javascript", "out-png-metadata", "out-image-tag", "md-iframe-js"):
        assert marker in found, f"the finder missed {marker}"


@pytest.mark.parametrize("template", ["formgrade", "feedback"])
def test_the_course_exporter_renders_the_whole_hostile_notebook_safely(module_course, hostile_with_outputs, template):
    """Formgrader's and the feedback's templates with the course config, on everything a
    student can hand in (also what the rebuild drops, for `nbgrader autograde` run by hand)."""
    page = _render(hostile_with_outputs, template, _course_config(module_course))
    assert_nothing_runs(page, f"the {template} template with the course config")
    assert_answers_still_shown(page, images=3)  # and the written answer's attached plot


def test_feedback_of_the_grading_command_runs_no_student_code(graded):
    page = (graded.root / "feedback" / STUDENT / "normalization" / "normalization.html").read_text()
    assert_nothing_runs(page, "feedback made by python -m autograder.grade")
    assert_answers_still_shown(page)
    # the sanitiser runs before the feedback's own steps and keeps their marks: no mark scheme
    assert marking.HEADING not in page


def test_nbgraders_own_generate_feedback_runs_no_student_code(graded):
    """An instructor's `nbgrader generate_feedback` with the course config, on the notebook as
    grading stored it."""
    graded.run(str(Path(sys.executable).parent / "nbgrader"), "generate_feedback", "normalization",
               "--student", STUDENT, "--force")
    page = (graded.root / "feedback" / STUDENT / "normalization" / "normalization.html").read_text()
    assert_nothing_runs(page, "nbgrader generate_feedback")
    assert_answers_still_shown(page)


# ---------------------------------------------------------------------------------------
# formgrader, served by the course's own `make lab`


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Lab:
    """`make lab` on a course copy, reached over HTTP with a token."""

    def __init__(self, course_copy, tmp_path):
        self.port, self.token = _free_port(), base64.b16encode(os.urandom(12)).decode().lower()
        self.base = f"http://127.0.0.1:{self.port}"
        args = (f"--no-browser --port={self.port} --ServerApp.token={self.token} --ServerApp.ip=127.0.0.1 "
                "--ServerApp.port_retries=0 --LabApp.news_url=None "
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate")
        self.log = open(tmp_path / "lab.log", "w")  # noqa: SIM115 (the server writes it until stop())
        self.process = subprocess.Popen(
            ["make", "-C", str(REPO), "lab", f"LAB_ARGS={args}"],
            env=course_copy.env(JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime")),
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def wait(self, timeout=90):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"make lab exited with {self.process.returncode}: {Path(self.log.name).read_text()[-3000:]}")
            try:
                if self.get("/api/status")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.5)
        raise AssertionError(f"the lab did not answer: {Path(self.log.name).read_text()[-3000:]}")

    def get(self, path):
        """(status, headers, body text) of an authenticated GET."""
        request = urllib.request.Request(self.base + path, headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.headers, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode("utf-8", "replace")

    def stop(self):
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        self.log.close()


@pytest.fixture(scope="module")
def lab(graded, tmp_path_factory):
    server = Lab(graded, tmp_path_factory.mktemp("lab"))
    try:
        yield server.wait()
    finally:
        server.stop()


def score_inputs(page):
    """The ids of formgrader's score boxes (one per graded cell)."""
    return {tag.get("id") for tag in start_tags(page, "input") if "score" in tag.get("class", "").split()}


def _submission_id(course_copy):
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course_copy.root / 'gradebook.db'}") as gradebook:
        return gradebook.find_submission_notebook("normalization", "normalization", STUDENT).id


def test_formgrader_shows_the_submission_without_running_it(graded, lab):
    status, headers, page = lab.get(f"/formgrader/submissions/{_submission_id(graded)}/?index=0")
    assert status == 200, page[-2000:]
    assert headers.get_content_type() == "text/html"
    graded_cells = {cell.metadata["nbgrader"]["grade_id"] for cell in nbformat.read(str(RELEASE), as_version=4).cells
                    if cell.metadata.get("nbgrader", {}).get("grade")}
    assert score_inputs(page) == graded_cells  # formgrader's grading panels are all there
    assert marking.HEADING.split("**")[1] in Visible(page).text  # graders still see the mark scheme
    assert_nothing_runs(page, "formgrader's submission page")
    assert_answers_still_shown(page)


def test_formgrader_serves_no_active_file_from_a_submission_folder(graded, lab):
    """Formgrader serves autograded/<student>/<assignment>/<file> on its own origin without a
    sandbox, and `nbgrader autograde` run by hand copies every file of a submission there:
    sanitize_folder renames what a browser would run."""
    folder = graded.root / "autograded" / STUDENT / "normalization"
    for name, text in EXTRA_FILES.items():  # as `nbgrader autograde` leaves them
        (folder / name).write_text(text)
    submission = _submission_id(graded)
    status, headers, _ = lab.get(f"/formgrader/submissions/{submission}/evil.html")
    assert status == 200 and headers.get_content_type() == "text/html"  # the page would run, same origin

    sanitize.sanitize_folder(folder)
    for name in EXTRA_FILES:
        for served in (name, name + ".txt"):
            status, headers, _ = lab.get(f"/formgrader/submissions/{submission}/{served}")
            if status == 200:
                assert headers.get_content_type() in ("text/plain", "application/octet-stream"), (served, headers)
                assert headers.get("X-Content-Type-Options") == "nosniff"
    status, _, text = lab.get(f"/formgrader/submissions/{submission}/evil.html.txt")
    assert status == 200 and "xss-marker/file-html" in text  # kept for the grader to read, as text


def test_jupyterlab_opens_the_graded_notebook_untrusted(graded, lab):
    """Formgrader's "open live notebook" link opens it in JupyterLab, which runs no output of an
    untrusted notebook and sanitises markdown; nothing signs graded notebooks."""
    status, _, body = lab.get(f"/api/contents/autograded/{STUDENT}/normalization/normalization.ipynb?content=1")
    assert status == 200
    cells = json.loads(body)["content"]["cells"]
    assert not any(cell["metadata"].get("trusted") for cell in cells if cell["cell_type"] == "code")


def test_a_notebook_sanitised_before_it_is_stored_still_shows_the_answers(graded, lab):
    """The pipeline's own step (sanitize_file on autograded/): the page stays safe and readable."""
    sanitize.sanitize_file(autograded_notebook(graded))  # (nothing changes if the pipeline did it already)
    status, _, page = lab.get(f"/formgrader/submissions/{_submission_id(graded)}/?index=0")
    assert status == 200
    assert_nothing_runs(page, "formgrader, on a notebook sanitised when stored")
    assert_answers_still_shown(page)
    assert sanitize.sanitize_file(autograded_notebook(graded)) == []  # once is enough


# ---------------------------------------------------------------------------------------
# the sanitiser itself


def test_safe_markdown_is_kept_as_written():
    for source in ("Plain *text* with `code < 1`, $\\mu < 1$ and [a link](https://example.org).",
                   HONEST_ANSWER, "# Title\n\n1. one\n2. two\n\n```python\nx = '<b>'\n```"):
        assert sanitize.sanitize_markdown(source, sanitize.sanitize_attachments(ATTACHMENTS)) == (source, [])


@pytest.mark.parametrize("name", sorted(n for n in MARKDOWN if not n.startswith("md-mathjax")))
def test_unsafe_markdown_is_rendered_cleaned(name):
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    cleaned, problems = sanitize.sanitize_markdown(MARKDOWN[name])
    assert problems, name
    page = MarkdownWithMath(renderer=IPythonRenderer(escape=False)).render(cleaned)  # as the templates do
    assert executable_parts(page) == []
    assert sanitize.sanitize_markdown(cleaned)[1] == [] or name == "md-mxss-math"


def test_outputs_keep_text_and_real_images_only():
    outputs = [
        {"output_type": "display_data", "data": {"text/html": "<b>hi</b><script>x()</script>",
                                                 "text/plain": "<IPython.core.display.HTML object>"},
         "metadata": {"text/html": {"isolated": True}}},
        {"output_type": "execute_result", "execution_count": 3, "data": {"text/plain": "df", "text/html": "<table/>"},
         "metadata": {}},
        {"output_type": "display_data", "data": {"image/png": PNG},
         "metadata": {"image/png": {"width": "1 onerror=x()", "height": 20}, "filenames": {"image/png": "a"}}},
        {"output_type": "display_data", "data": {"image/png": "not an image", "image/svg+xml": "<svg/>"}, "metadata": {}},
        {"output_type": "stream", "name": "evil", "text": ["a", "b"]},
        {"output_type": "weird"},
    ]
    html_output, table, image, fake, stream, weird = (sanitize.sanitize_output(o) for o in outputs)
    assert html_output["data"] == {"text/plain": "[text/html output not shown: only text, PNG and JPEG outputs "
                                                 "are displayed]\nhi"} and html_output["metadata"] == {}
    assert table == {"output_type": "execute_result", "execution_count": 3, "data": {"text/plain": "df"}, "metadata": {}}
    assert image["data"] == {"image/png": PNG} and image["metadata"] == {"image/png": {"height": 20}}
    assert set(fake["data"]) == {"text/plain"} and "<svg/>" in fake["data"]["text/plain"]
    assert stream == {"output_type": "stream", "name": "stdout", "text": "ab"}
    assert weird["output_type"] == "stream"


def test_sanitize_folder_renames_active_files_only(tmp_path):
    for name in ("a.html", "b.svg", "c.xml", "d.js", "e.pdf", "f.xhtml", "g.png", "h.py", "i.npz", "j.txt",
                 "k.ipynb", "l.json", "sub/m.htm"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("x")
    renamed = sanitize.sanitize_folder(tmp_path)
    assert sorted(p.name for p in renamed) == ["a.html", "b.svg", "c.xml", "d.js", "e.pdf", "f.xhtml", "m.htm"]
    assert (tmp_path / "a.html.txt").exists() and (tmp_path / "g.png").exists()
    assert sanitize.sanitize_folder(tmp_path) == []


def test_raw_cells_and_metadata_become_inert():
    notebook = hostile_notebook()
    notes = sanitize.sanitize_notebook(notebook)
    assert any("raw cell" in note for note in notes)
    assert {cell.cell_type for cell in notebook.cells} == {"code", "markdown"}
    assert set(notebook.metadata) <= {"kernelspec", "language_info"}
    for cell in notebook.cells:
        assert "xss" not in json.dumps(cell.metadata) and "xss" not in json.dumps(cell.get("attachments", {}))
        assert set(cell.get("attachments", {})) <= {"plot.png", "mixed.png"}
    raw = next(cell for cell in notebook.cells if cell.source.startswith("```text\n<script>"))
    assert raw.source.endswith("\n```")
    assert sanitize.sanitize_notebook(notebook) == []  # idempotent


def test_markdown_too_long_to_render_is_kept_whole_and_shown_as_text():
    """The markdown parser needs seconds and hundreds of MB per MB of some text: a long cell, and
    cells past the notebook's budget, keep every character and show as text."""
    long_answer = "*a* `b` " * 40_000
    medium = ["*m* " * 3_000 + f"cell {i}" for i in range(10)]  # 12,000 characters each
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(long_answer)]
                                        + [nbformat.v4.new_markdown_cell(text) for text in medium])
    notes = sanitize.sanitize_notebook(notebook)
    as_text = [i for i, cell in enumerate(notebook.cells) if cell.source.startswith("````text\n")
               or cell.source.startswith("```text\n")]
    rendered = sanitize.MARKDOWN_BUDGET // len(medium[0])
    assert as_text == [0] + list(range(1 + rendered, len(notebook.cells))), as_text
    assert notebook.cells[0].source == safe_html.as_code_block(long_answer)
    assert all(notebook.cells[1 + i].source == medium[i] for i in range(rendered))
    assert len(notes) == 1 + len(medium) - rendered and f"{len(long_answer):,} characters shown as text" in notes[0]
    assert sanitize.sanitize_notebook(notebook) == []  # idempotent: a block of text stays one
    from nbconvert.exporters import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(notebook)
    assert html.escape("*a* `b` " * 3, quote=False) in page


def test_the_course_config_sanitises_every_html_export():
    """Formgrader and generate_feedback build their HTMLExporter from nbgrader_config.py."""
    from traitlets.config.loader import PyFileConfigLoader

    saved = dict(os.environ)
    try:
        config = PyFileConfigLoader("nbgrader_config.py", path=str(REPO)).load_config()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert config.HTMLExporter.preprocessors[-1] == "autograder.sanitize.SanitizeNotebook"
    assert config.HTMLExporter.sanitize_html is True


def test_the_course_config_keeps_the_sanitiser_even_when_the_course_code_breaks(tmp_path):
    """Jupyter ignores a config file that raises, and formgrader would then render without the
    sanitiser: nbgrader_config.py must load, sanitiser included, with a broken manifest."""
    import subprocess
    import sys

    from conftest import Course

    course_copy = Course(tmp_path / "course")
    (course_copy.root / "assignments" / "normalization.toml").write_text("this is = not [valid toml")
    script = ("from traitlets.config.loader import PyFileConfigLoader\n"
              "c = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
              "print(c.HTMLExporter.preprocessors, c.HTMLExporter.sanitize_html, c.Execute.timeout)\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=course_copy.root, capture_output=True, text=True,
                            env=course_copy.env())
    assert result.returncode == 0, result.stderr
    assert "['autograder.sanitize.SanitizeNotebook'] True 30" in result.stdout
    assert "could not read the assignment manifest" in result.stderr


def test_markdown_that_renders_huge_is_kept_as_text_and_not_remembered():
    """Images and links copy their data into the page at every use: past MAX_RENDERED_BYTES a cell
    shows as text; each use of a reasonable attachment still renders as an image."""
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(300_000)).decode()
    repeated = "![](attachment:a.png)" * 30  # 30 x 400 KB of base64 in the page
    safe, problems = safe_html.sanitize_markdown(repeated, {"a.png": {"image/png": png}})
    assert safe == safe_html.as_code_block(repeated) and problems == [safe_html.TOO_LARGE]
    references = "[a]: http://e.example/" + "a" * 9970 + "\n\n" + "[a] " * 2500
    safe, problems = safe_html.sanitize_markdown(references)
    assert safe == safe_html.as_code_block(references) and problems == [safe_html.TOO_LARGE]
    twice = "![](attachment:a.png) and again ![](attachment:a.png)"
    assert safe_html.sanitize_markdown(twice, {"a.png": {"image/png": png}}) == (twice, [])
    assert all(len(key[0]) + len(key[1]) + len(kept[0]) <= safe_html.KEPT_BYTES  # big ones not remembered
               for key, kept in safe_html._SANITIZED.items())


def test_an_answer_sanitised_once_stays_as_it_is_however_long_its_cleaned_html():
    """A long honest answer with a little HTML becomes cleaned HTML longer than the markdown limit;
    sanitising it again (formgrader's and the feedback's exporters do) keeps it, not as text."""
    answer = "| batch | BN | LN |\n| --- | --- | --- |\n" + "".join(f"| {i} | {i / 7:.4f} | {i / 9:.4f} |\n"
                                                             for i in range(400)) + "\nsee above<br>thanks"
    assert len(answer) < sanitize.MAX_MARKDOWN_CHARS
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(answer)])
    assert len(sanitize.sanitize_notebook(notebook)) == 1  # raw HTML: cleaned
    cleaned = notebook.cells[0].source
    assert len(cleaned) > sanitize.MAX_MARKDOWN_CHARS and cleaned.startswith(safe_html.WRAPPER[0])
    assert sanitize.sanitize_notebook(notebook) == [] and notebook.cells[0].source == cleaned


def test_html_outputs_become_their_visible_text():
    shown = sanitize._as_text("text/html", "<p>1 &lt; 2 &amp; <b>bold</b></p><script>alert(1)</script>"
                                           "<STYLE>p {}</STYLE>after<!-- hidden -->end<br/>")
    assert shown == "1 < 2 & boldafterend"
    unclosed = "<a b='" * 50_000  # no tag ever ends: shown as it was written (cut)
    assert sanitize._as_text("text/html", unclosed) == unclosed[:sanitize.MAX_TEXT] + "\n[...]"
    assert sanitize._as_text("text/html", "<script>never closed") == "<script>never closed"


def test_long_code_shows_uncoloured_in_the_feedback():
    from nbconvert.exporters import HTMLExporter

    from autograder import feedback

    highlight = feedback._remembering_filters(HTMLExporter())["highlight_code"]
    short = highlight("x = 1 < 2\n")
    assert "<span" in short and "&lt;" in short
    long_code = "x = 1 < 2\n" * 10_000
    page = highlight(long_code)
    assert "<span" not in page and page.count("x = 1 &lt; 2") == 10_000
