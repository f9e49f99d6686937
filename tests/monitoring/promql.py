"""Small PromQL helpers for tests: the panel expressions of a dashboard, the recording rules
and alerts of the committed rule files, and the metric names an expression reads.

Parsing (syntax) is left to the real parser (promtool); `metric_names` only lists the series
names an expression selects, to compare them with api.telemetry.names.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

KEYWORDS = {
    "and",
    "or",
    "unless",
    "bool",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "offset",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_BRACES = re.compile(r"\{[^}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w:.])([a-zA-Z_:][\w:]*)(?![\w:])(?!\s*\()")


def metric_names(expr: str) -> set[str]:
    """Series names selected by `expr` (not functions, keywords, labels or durations)."""
    text = _STRING.sub('""', expr)
    text = _BRACES.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub("", text)
    return {name for name in _IDENT.findall(text) if name.lower() not in KEYWORDS}


def panels(dashboard: Path) -> list[dict[str, Any]]:
    """Every panel of a dashboard JSON, rows' nested panels included."""
    found: list[dict[str, Any]] = []
    todo = list(json.loads(dashboard.read_text())["panels"])
    while todo:
        panel = todo.pop(0)
        todo.extend(panel.get("panels", []))
        if panel.get("type") != "row":
            found.append(panel)
    return found


def panel_exprs(dashboard: Path) -> list[tuple[str, str]]:
    """(panel title, PromQL expr) of every query target of a dashboard."""
    return [
        (panel["title"], target["expr"])
        for panel in panels(dashboard)
        for target in panel.get("targets", [])
        if target.get("expr")
    ]


def rule_docs(rule_dir: Path) -> list[dict[str, Any]]:
    """Every rule of every rule file in `rule_dir`."""
    found: list[dict[str, Any]] = []
    for path in sorted(rule_dir.glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def recorded_names(rule_dir: Path) -> set[str]:
    return {rule["record"] for rule in rule_docs(rule_dir) if "record" in rule}
