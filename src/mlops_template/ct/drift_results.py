"""What the offline drift report found (`Report`, one `Row` per feature) and how it is
written: a Markdown table (column names from the batch are escaped), plain text, or JSON.
`mlops_template.ct.drift_report` computes it; the retrain job writes it into its merge request.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_template.core import markdown
import mlops_template.ct.two_sample as two_sample

MAX_NAMED = 20  # drifted features named in the summary line


@dataclass(frozen=True)
class Row:
    """Drift of one feature (or of the predictions) against the training reference."""

    name: str
    psi: float
    pvalue: float
    missing: float  # share of missing values in the batch
    reference_missing: float
    drifted: bool


@dataclass(frozen=True)
class Report:
    rows: list[Row]
    prediction: Row | None
    prediction_note: str
    threshold: float
    n_rows: int
    numeric: list[two_sample.NumericTest] = field(default_factory=list)
    classifier: two_sample.ClassifierScore | None = None

    @property
    def drifted(self) -> list[Row]:
        rows = self.rows + ([self.prediction] if self.prediction else [])
        return [r for r in rows if r.drifted]

    @property
    def any_drift(self) -> bool:
        return bool(self.drifted) or bool(self.classifier and self.classifier.drifted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "n_rows": self.n_rows,
            "features": [asdict(r) for r in self.rows],
            "prediction": asdict(self.prediction) if self.prediction else None,
            "prediction_note": self.prediction_note,
            "drifted": [r.name for r in self.drifted],
            "numeric_tests": [asdict(t) for t in self.numeric],
            "classifier": asdict(self.classifier) if self.classifier else None,
        }


def _verdict(row: Row) -> str:
    return "DRIFT" if row.drifted else "ok"


def _cells(row: Row) -> list[str]:
    return [
        row.name,
        f"{row.psi:.4f}",
        f"{row.pvalue:.3g}",
        f"{row.missing:.1%} ({row.reference_missing:.1%})",
        _verdict(row),
    ]


HEADER = ["feature", "PSI", "chi² p-value", "missing (train)", "verdict"]


def _summary(report: Report, name: Callable[[str], str] = str) -> str:
    """One line; `name` renders each feature name (markdown.escape for Markdown)."""
    drifted = report.drifted
    if not drifted:
        return f"No drift: no PSI above {report.threshold} ({report.n_rows} rows)."
    names = [f"{name(r.name)} (PSI {r.psi:.3f})" for r in drifted]
    shown = ", ".join(names[:MAX_NAMED]) + (
        f" and {len(names) - MAX_NAMED} more" if len(names) > MAX_NAMED else ""
    )
    return (
        f"Drift in {len(drifted)} of {len(report.rows) + 1} checks ({report.n_rows} rows): {shown}."
    )


def to_markdown(report: Report) -> str:
    """Column names come from the batch: every cell goes through `markdown.escape`."""
    lines = [markdown.table(HEADER, [_cells(r) for r in report.rows], align="lrrrl"), ""]
    if report.prediction is not None:
        c = _cells(report.prediction)
        lines.append(f"**Prediction drift**: PSI {c[1]}, chi² p-value {c[2]}: {c[4]}")
    else:
        lines.append(f"**Prediction drift**: {markdown.escape(report.prediction_note)}")
    lines += ["", _summary(report, markdown.escape), ""]
    extra = two_sample.markdown(report.numeric, report.classifier)
    if extra:
        lines += ["### Two-sample tests against the training split", "", extra]
    return "\n".join(lines)


def to_text(report: Report) -> str:
    table = [HEADER] + [_cells(r) for r in report.rows]
    if report.prediction is not None:
        table.append(_cells(report.prediction))
    widths = [max(len(row[i]) for row in table) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    if report.prediction is None:
        lines.append(f"(prediction) {report.prediction_note}")
    lines.append(_summary(report))
    text = "\n".join(lines) + "\n"
    if report.numeric or report.classifier:
        text += "\n" + two_sample.text(report.numeric, report.classifier)
    return text


def render(report: Report, fmt: str) -> str:
    if fmt == "md":
        return to_markdown(report)
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    return to_text(report)
