"""Text from data (column and class names) made safe inside GitLab Markdown.

A minimal stand-in: HARD's branch (issue 12) owns this module and its full `escape`; on merge
its version replaces this one (same name, same call)."""

from __future__ import annotations

import re

LIMIT = 80


def escape(text: object, limit: int = LIMIT) -> str:
    """One line, capped, with table pipes, code ticks, HTML, @-mentions and quick actions
    neutralised."""
    value = re.sub(r"\s+", " ", str(text)).strip()
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    value = value.replace("\\", "\\\\").replace("|", "\\|").replace("`", "\\`")
    value = value.replace("<", "&lt;").replace(">", "&gt;").replace("@", "@\u200b")
    return "\\" + value if value.startswith("/") else value
