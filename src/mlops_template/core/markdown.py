"""Text from data, params or an alert payload, made safe to put into Markdown that GitLab renders.

Column names, param values and trigger-payload text reach the merge-request report, the retrain
merge request's description and the drift report. In GitLab Markdown such text could break a
table (`|`, newlines), start a code span (a backtick), inject HTML or an image that calls home
(`<`, `[`), notify people (`@all`), cross-reference issues and merge requests (`#1`, `!1`, `~x`,
`%x`, `$x`, `&x`) or, at the start of a line, run a quick action (`/merge`, `/assign`).
`escape` is the one function every report passes such text through; `table` builds tables from
escaped cells and caps the number of rows.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

MAX_CHARS = 200  # longest escaped value; longer text is cut and ends with "…"
MAX_ROWS = 200  # most rows in one table; the rest are counted in a note

# GitLab reference and mention prefixes: a zero-width space after one stops the reference.
_ZWSP = "\u200b"
_MAP = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "[": "\\[",
    "]": "\\]",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;" + _ZWSP,
    **{c: c + _ZWSP for c in "@#!~%$"},
}
_TRANSLATE = str.maketrans(_MAP)
# Control characters and the bidirectional overrides that make text read differently than it is.
_INVISIBLE = re.compile("[\x00-\x08\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")


def escape(text: object, limit: int = MAX_CHARS) -> str:
    """`text` as one line of inert Markdown: whitespace and newlines become single spaces,
    it is cut to `limit` characters, and every character GitLab would act on is escaped."""
    flat = " ".join(_INVISIBLE.sub("", str(text)).split())  # split() knows \u2028 and friends
    if len(flat) > limit:
        flat = flat[: max(limit - 1, 0)] + "…"
    out = flat.translate(_TRANSLATE)
    return "\\" + out if out.startswith("/") else out  # "\/merge" is no quick action


def table(
    header: Sequence[str], rows: Iterable[Sequence[object]], align: str = "", limit: int = MAX_ROWS
) -> str:
    """A Markdown table of escaped cells; `align` holds one of l/r per column (default left).
    Past `limit` rows, one line says how many more there were."""
    marks = [("---:" if a == "r" else "---") for a in align.ljust(len(header), "l")]
    lines = ["| " + " | ".join(escape(h) for h in header) + " |", "|" + "|".join(marks) + "|"]
    hidden = 0
    for n, row in enumerate(rows):
        if n >= limit:
            hidden += 1
            continue
        lines.append("| " + " | ".join(escape(cell) for cell in row) + " |")
    if hidden:
        lines += ["", f"({hidden} more rows not shown)"]
    return "\n".join(lines)


def listing(items: Iterable[object], limit: int = 20, separator: str = ", ") -> str:
    """Escaped items joined by `separator`, at most `limit` of them and a count of the rest."""
    shown: list[str] = []
    hidden = 0
    for item in items:
        if len(shown) < limit:
            shown.append(escape(item))
        else:
            hidden += 1
    return separator.join(shown) + (f"{separator}and {hidden} more" if hidden else "")
