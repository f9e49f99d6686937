"""Text from outside (alert payloads, column, class and label names) made safe for GitLab Markdown.

A MINIMAL stand-in (written on the `feed` and `gbm` branches): the hardening branch (issue 12)
owns this module and its full rules; the lead keeps that version when merging. Same name and
call: `escape(text)` or `escape(text, limit)`.
"""

from __future__ import annotations

import re

MAX_CHARS = 200
_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+!|~@$])")


def escape(text: object, limit: int = MAX_CHARS) -> str:
    """`text` on one line, Markdown and HTML characters backslash-escaped, mentions and quick
    actions defused, at most `limit` characters before escaping."""
    flat = " ".join(str(text).split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    flat = _SPECIAL.sub(r"\\\1", flat)
    if flat.startswith("/"):
        flat = "\\" + flat  # a line starting with / is a GitLab quick action
    return flat
