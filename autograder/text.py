"""Plain text for everything a person reads: statuses, notes, messages, CSV cells.

Student code controls much of what ends up in these strings (exception messages, printed
values, folder names). Before any of it is shown or exported it goes through here: no
terminal escapes, no control characters, no lone surrogates, bounded length, and no cell
that a spreadsheet would run as a formula.
"""
import re
import unicodedata

ANSI_ESCAPE = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# characters clean() must look at one by one: all but printable ASCII (and "\n" when kept)
_INSPECT = {True: re.compile("[^\x20-\x7e\n]"), False: re.compile("[^\x20-\x7e]")}


def _shown(char):
    """How clean() shows a character other than printable ASCII: itself when printable, U+FFFD for
    a lone surrogate, a space for control, format and unassigned characters and line separators."""
    if "\ud800" <= char <= "\udfff":
        return "\ufffd"
    return " " if unicodedata.category(char) in ("Cc", "Cf", "Co", "Cn", "Zl", "Zp") else char


def clean(text, limit=2000, keep_newlines=True):
    """Text safe to print, store and export.

    Inputs:
    - text: anything (str() is taken of non-strings)
    - limit: largest number of characters kept; longer text ends with "…"
    - keep_newlines: keep "\\n" (multi-line messages); otherwise every line break becomes a space

    Returns a str without terminal escapes, control or format characters and lone surrogates
    (each replaced by a space or U+FFFD), at most limit characters long.
    """
    text = text if isinstance(text, str) else str(text)
    text = ANSI_ESCAPE.sub("", text[: 4 * limit + 64])
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    text = _INSPECT[keep_newlines].sub(lambda match: _shown(match.group()), text)
    if not keep_newlines:
        text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def one_line(text, limit=300):
    """clean() on a single line: for statuses, names and table cells."""
    return clean(text, limit, keep_newlines=False)


def short_repr(value, limit=80):
    """repr() of a value a student handed in, cut to limit characters (never the whole value)."""
    try:
        text = repr(value) if not isinstance(value, str) else repr(value[: limit + 2])
    except Exception as error:  # a student object whose __repr__ raises
        text = f"<{type(value).__name__} whose repr() raised {type(error).__name__}>"
    return one_line(text, limit)


def exception(error, limit=300):
    """'Type: message' of an exception raised by student code, on one bounded line."""
    try:
        message = str(error)
    except Exception:
        message = "<its message could not be shown>"
    return one_line(f"{type(error).__name__}: {message[: 4 * limit]}", limit)


def spreadsheet_cell(value):
    """A CSV cell that spreadsheets show as text: a leading =, +, -, @, tab or CR gets a "'".

    Numbers (e.g. "-1.5" or "10.0") are left alone.
    """
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_PREFIXES):
        try:
            float(text)
            return text
        except ValueError:
            return "'" + text
    return text
