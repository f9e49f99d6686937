"""Offline drift report: a batch of recent data (CSV/Parquet) vs the model's training reference.

    python -m mlops_template.ct.drift_report DATA [--model-dir model] [--threshold PSI]
                                               [--format md|text|json]
                                               [--reference data/processed/train.parquet]
                                               [--auc-threshold 0.7]
    python -m mlops_template.ct.drift_report --capture URL [--days 7] …   (captured traffic)

Prints one row per feature (PSI, chi-square p-value of the bin counts, missing share, verdict),
most drifted first, then the prediction drift when the model file is next to the card.
Exit code: 0 no drift, 1 some PSI above the threshold (default `drift.PSI_THRESHOLD`, the
alert rules' value), 2 the batch can't be compared (missing columns, unreadable file). The bins
are the model card's `drift_reference`, binned with the same `mlops_template.core.drift` code
the API uses, so offline and live drift agree. With reference rows (the training split,
when present), it adds per-feature Kolmogorov–Smirnov and Wasserstein tests and a classifier
drift score (`mlops_template.ct.two_sample`); a score above --auc-threshold is drift too.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import bundle, capture, card, drift, markdown, paths, schema
from mlops_template.core.card import ModelCard
from mlops_template.core.errors import ModelLoadError, StageError
from mlops_template.core.predict import predict_frame
import mlops_template.ct.two_sample as two_sample
from mlops_template.stages import datasets

log = logging.getLogger(__name__)

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


def compare_column(name: str, column: pd.Series, ref: drift.Bins, threshold: float) -> Row:
    """PSI and chi-square p-value of `column` binned into the reference bins of `ref`."""
    n = drift.counts(column, ref)
    actual = n / n.sum() if n.sum() else np.zeros_like(n)
    value = drift.psi(ref.proportions, actual) if n.sum() else 0.0
    return Row(
        name=name,
        psi=round(value, 6),
        pvalue=round(drift.chi_square_pvalue(ref.proportions, n), 6),
        missing=round(float(column.isna().mean()) if len(column) else 0.0, 6),
        reference_missing=float(getattr(ref, "missing", 0.0)),  # predictions have none
        drifted=bool(n.sum()) and drift.drifted(value, threshold),
    )


def missing_columns(frame: pd.DataFrame, model_card: ModelCard) -> list[str]:
    return [name for name in model_card.drift_reference.features if name not in frame]


def predictions(model_dir: Path, model_card: ModelCard, frame: pd.DataFrame) -> pd.Series:
    """The model's predictions for `frame` (classes as str, or values), like the API makes them."""
    model = bundle.load_model(model_dir, model_card)
    labels, _ = predict_frame(model, frame, model_card.features, model_card.task)
    if model_card.task == "classification":
        return pd.Series([str(c) for c in labels])
    return pd.Series(labels.astype(float))


def compare(
    frame: pd.DataFrame,
    model_dir: Path,
    threshold: float = drift.PSI_THRESHOLD,
    reference_rows: pd.DataFrame | None = None,
    auc_threshold: float = two_sample.AUC_THRESHOLD,
) -> Report:
    """Drift of every feature of the model card (and of the predictions) in `frame`; with
    `reference_rows` (the training split), the two-sample tests and the classifier score too."""
    model_card = card.read(model_dir)
    missing = missing_columns(frame, model_card)
    if missing:
        raise StageError(
            f"the batch lacks {len(missing)} feature column(s) the model was trained on: "
            f"{', '.join(missing)}"
        )
    x = schema.coerce(frame, model_card.features)
    reference = model_card.drift_reference
    rows = [
        compare_column(name, x[name], ref, threshold) for name, ref in reference.features.items()
    ]
    rows.sort(key=lambda r: (-r.psi, r.name))
    prediction: Row | None = None
    note = ""
    model_file = model_dir / model_card.model_file
    if not model_file.is_file():
        note = f"skipped: {model_file} not found (run `dvc pull` or `make train`)"
    elif len(frame) == 0:
        note = "skipped: the batch has no rows"
    else:
        pred = predictions(model_dir, model_card, frame)
        prediction = compare_column("(prediction)", pred, reference.prediction, threshold)
    numeric: list[two_sample.NumericTest] = []
    score = None
    if reference_rows is not None and len(frame):
        ref = schema.coerce(reference_rows, model_card.features)
        numeric = two_sample.numeric_tests(ref, x, model_card.features)
        score = two_sample.classifier_score(ref, x, model_card.features, auc_threshold)
    return Report(rows, prediction, note, threshold, len(frame), numeric, score)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path, nargs="?", help="batch of recent data: .csv or .parquet")
    parser.add_argument("--capture", help="instead of DATA: the API's capture (folder or URL)")
    parser.add_argument("--days", type=float, default=7.0, help="with --capture: the last N days")
    parser.add_argument(
        "--reference",
        type=Path,
        help=f"reference rows for the two-sample tests, e.g. {paths.TRAIN} (the training split)",
    )
    parser.add_argument("--auc-threshold", type=float, default=two_sample.AUC_THRESHOLD)
    parser.add_argument("--model-dir", type=Path, default=paths.MODEL_DIR)
    parser.add_argument(
        "--threshold", type=float, default=drift.PSI_THRESHOLD, help="drift when a PSI is above"
    )
    parser.add_argument("--format", choices=("md", "text", "json"), default="text")
    parser.add_argument("--sep", default=",", help="CSV separator")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s", stream=sys.stderr)
    try:
        if not (args.model_dir / card.FILE_NAME).is_file():
            raise StageError(f"{args.model_dir / card.FILE_NAME} not found; run `make train`")
        if args.capture:
            since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=args.days)
            frame = capture.read(args.capture, capture.PREDICTIONS, since)
            if frame.empty:
                raise StageError(f"{args.capture}: no captured rows in the last {args.days:g} days")
            args.data = Path(args.capture)
        elif args.data is None:
            raise StageError("give DATA (a .csv/.parquet batch) or --capture URL")
        elif not args.data.is_file():
            raise StageError(f"{args.data}: file not found")
        else:
            frame = datasets.read(str(args.data), args.sep)  # its errors name the file
        reference_rows = None
        if args.reference is not None:
            reference_rows = datasets.read(str(args.reference), args.sep)
    except StageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        report = compare(frame, args.model_dir, args.threshold, reference_rows, args.auc_threshold)
    except (StageError, ModelLoadError) as exc:
        print(f"error: {args.data}: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(render(report, args.format))
    return 1 if report.any_drift else 0


if __name__ == "__main__":
    raise SystemExit(main())
