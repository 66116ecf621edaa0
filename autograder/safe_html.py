"""Markdown and HTML a grader's browser may render: an allow list, and markdown that is safe as written.

nbconvert's templates render markdown cells unsanitised (raw HTML, `javascript:` links and
mermaid blocks pass straight through). `sanitize_markdown` keeps a cell's source when it renders
safely, and otherwise replaces it by its rendering cleaned with bleach (allowed tags, attributes
and URL schemes; anything else shows as text), as one HTML block markdown leaves alone.
autograder.sanitize applies it to every markdown cell of a submission.
"""
import html
import json
import re

import bleach
from bleach.css_sanitizer import CSSSanitizer
from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

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


# What one markdown cell may render to: images and links copy their data or URL into the page at
# every use, so a short cell can render to hundreds of MB (an attachment referenced 300 times, a
# 10,000-character link reference used 2,500 times). Past this, the cell shows as text.
MAX_RENDERED_BYTES = 4 * 2**20
KEPT_BYTES = 64 * 2**10  # renderings larger than this are not remembered between submissions
TOO_LARGE = f"renders to more than {MAX_RENDERED_BYTES // 2**20} MB: shown as text"


class _RenderedTooLarge(Exception):
    pass


class _InspectingRenderer(IPythonRenderer):
    """nbconvert's markdown renderer (as the templates use it), noting what is not safe as is,
    and stopping once images and links have copied more than MAX_RENDERED_BYTES into the page."""

    def __init__(self, attachments):
        super().__init__(escape=False, attachments=attachments)
        self.unsafe = []
        self.copied = 0

    def _count(self, text):
        self.copied += len(text)
        if self.copied > MAX_RENDERED_BYTES:
            raise _RenderedTooLarge()
        return text

    def block_html(self, html_text):
        self.unsafe.append("raw HTML")
        return super().block_html(html_text)

    def inline_html(self, html_text):
        self.unsafe.append("raw HTML")
        return super().inline_html(html_text)

    def link(self, text, url, title=None):
        if not safe_link(url):
            self.unsafe.append(f"link {url[:40]!r}")
        return self._count(super().link(text, url, title))

    def image(self, text, url, title=None):
        name = url[len("attachment:"):] if url.startswith("attachment:") else None
        if name is not None and name not in self.attachments:
            self.unsafe.append(f"missing attachment {name[:40]!r}")  # nbconvert would fail
            return html.escape(f"[image {name} not attached]")
        result = self._count(super().image(text, url, title))
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
    rendering as one HTML block (or, when it would render to more than MAX_RENDERED_BYTES, the
    source as a block of text); problems says what was not safe."""
    key = (source, json.dumps(attachments or {}, sort_keys=True))
    safe, problems = remembered(_SANITIZED, key, lambda: _sanitized_markdown(*key), lambda kept: kept[0])
    return safe, list(problems)


# the released notebook's text repeats in every submission: a grading process renders it once
_SANITIZED = {}
REMEMBERED = 4000  # renderings a grading process keeps


def remembered(kept, key, render, text_of=str):
    """render(), kept in the dict kept under key (a tuple of strings) when small: at most
    KEPT_BYTES of key and text_of(result) together; kept is emptied when it holds REMEMBERED."""
    if key in kept:
        return kept[key]
    result = render()
    if sum(map(len, key)) + len(text_of(result)) <= KEPT_BYTES:
        if len(kept) >= REMEMBERED:
            kept.clear()
        kept[key] = result
    return result


def is_sanitized(source):
    """Whether markdown is already the cleaned rendering sanitize_markdown makes (one HTML line)."""
    return source.startswith(WRAPPER[0]) and _one_line(clean_html(source)) == source


def _sanitized_markdown(source, attachments_json):
    """sanitize_markdown, for its text and its attachments as JSON."""
    attachments = json.loads(attachments_json)
    renderer = _InspectingRenderer(attachments)
    try:
        rendered = MarkdownWithMath(renderer=renderer).render(source)
    except _RenderedTooLarge:
        return as_code_block(source), (TOO_LARGE,)
    if not renderer.unsafe:
        return source, ()
    if is_sanitized(source):
        return source, ()  # made safe before: markdown passes one HTML line through unchanged
    # one line: a blank line would end the HTML block and hand the rest back to markdown
    safe = WRAPPER[0] + _one_line(clean_html(rendered).strip()) + WRAPPER[1]
    return safe, tuple(dict.fromkeys(renderer.unsafe))
