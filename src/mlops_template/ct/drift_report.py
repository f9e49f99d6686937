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
import logging
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_template.core import bundle, capture, card, drift, paths, schema
from mlops_template.core.card import ModelCard
from mlops_template.core.errors import ModelLoadError, StageError
from mlops_template.core.predict import predict_frame
import mlops_template.ct.two_sample as two_sample
from mlops_template.ct.drift_results import Report, Row, render, to_markdown, to_text
from mlops_template.stages import datasets

__all__ = ["Report", "Row", "compare", "main", "render", "to_markdown", "to_text"]

log = logging.getLogger(__name__)


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
