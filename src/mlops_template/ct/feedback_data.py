"""Captured production rows + their labels → a labelled table with the training data's columns.

    python -m mlops_template.ct.feedback_data [--capture URL] [--model-dir model]
    make feedback-data                              (then `dvc add` of the table)

Reads the API's capture (CAPTURE_URL, a folder or fsspec URL; see mlops_template.core.capture):
the predictions served in the last `feedback.window_days` days and every label sent for them
to /feedback. A prediction labelled more than once (the label went to several replicas or
processes) keeps its first label. Labels that are not one of the model's classes (or not a
finite number, for regression) are left out and counted. Features the API did not store
(CAPTURE_DROP_COLUMNS) or stored only as a hash (CAPTURE_HASH_COLUMNS) are missing values.

Writes data/feedback/labelled.parquet (feature columns + the target column, what `load` reads
next to data.source, as `feedback.mode` says) and data/feedback/summary.json: how many rows,
the period they were served in, and the quality the served model(s) had on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import capture, card, config, io, paths
from mlops_template.core.card import ModelCard
from mlops_template.core.errors import ConfigError, StageError
from mlops_template.core.live_params import FeedbackParams
from mlops_template.core.markdown import escape, listing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Summary:
    """What the labelled table holds: for the log and the retrain merge request."""

    rows: int
    captured: int  # predictions captured in the window
    labels: int  # labels received for them (before removing duplicates)
    duplicates: int
    refused: int  # labels that are no class of the model / not finite
    first: str  # served between (UTC, ISO 8601)
    last: str
    metric: str  # accuracy | mae of the served predictions against the labels
    quality: float | None
    by_version: dict[str, float] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    mode: str = "append"
    window_days: float = 0.0


def _valid(labels: pd.Series, model_card: ModelCard) -> pd.Series:
    if model_card.task == "classification":
        return labels.astype(str).isin(model_card.classes)
    values = pd.to_numeric(labels, errors="coerce")
    return pd.Series(np.isfinite(values.to_numpy(dtype=float)), index=labels.index)


def _quality(frame: pd.DataFrame, task: str) -> float | None:
    if not len(frame):
        return None
    if task == "classification":
        return float((frame[capture.PREDICTION].astype(str) == frame[capture.LABEL]).mean())
    served = frame[capture.PREDICTION].astype(float)
    return float((frame[capture.LABEL].astype(float) - served).abs().mean())


def join(
    predictions: pd.DataFrame,
    labels: pd.DataFrame,
    model_card: ModelCard,
    params: FeedbackParams,
) -> tuple[pd.DataFrame, Summary]:
    """The labelled table (features + target) and its summary."""
    metric = "accuracy" if model_card.task == "classification" else "mae"
    if not len(predictions) or not len(labels):
        empty = pd.DataFrame(columns=[*(f.name for f in model_card.features), model_card.target])
        summary = Summary(0, len(predictions), len(labels), 0, 0, "", "", metric, None)
        return empty, summary
    predictions = predictions.drop_duplicates(capture.ID, keep="first")
    labels = labels.sort_values(capture.LABELLED_AT, kind="stable")
    unique = labels.drop_duplicates(capture.ID, keep="first")
    duplicates = len(labels) - len(unique)
    ok = _valid(unique[capture.LABEL], model_card)
    refused = int((~ok).sum())
    unique = unique[ok]
    both = predictions.merge(
        unique[[capture.ID, capture.LABEL]], on=capture.ID, how="inner", validate="one_to_one"
    )
    left_out = list(predictions.attrs.get("left_out", []))
    table = pd.DataFrame(index=both.index)
    for feature in model_card.features:
        usable = feature.name in both and feature.name not in left_out
        table[feature.name] = both[feature.name] if usable else None
    label = both[capture.LABEL]
    table[model_card.target] = label.astype(str) if metric == "accuracy" else label.astype(float)
    served = pd.to_datetime(both[capture.SERVED_AT], utc=True)
    by_version = {
        str(v): q
        for v, part in both.groupby(capture.VERSION)
        if (q := _quality(part, model_card.task)) is not None
    }
    summary = Summary(
        rows=len(table),
        captured=len(predictions),
        labels=len(labels),
        duplicates=duplicates,
        refused=refused,
        first=served.min().strftime("%Y-%m-%d %H:%M:%S UTC"),
        last=served.max().strftime("%Y-%m-%d %H:%M:%S UTC"),
        metric=metric,
        quality=_quality(both, model_card.task),
        by_version=by_version,
        left_out=left_out,
        mode=params.mode,
        window_days=params.window_days,
    )
    return table.reset_index(drop=True), summary


def build(url: str, model_dir: Path = paths.MODEL_DIR) -> Summary:
    """Join the capture at `url` and write the table and its summary (see the docstring)."""
    params = config.load().feedback
    model_card = card.read(model_dir)
    since = None
    if params.window_days > 0:
        since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=params.window_days)
    predictions = capture.read(url, capture.PREDICTIONS, since)
    labels = capture.read(url, capture.LABELS, since)
    table, summary = join(predictions, labels, model_card, params)
    if not summary.rows:
        raise StageError(
            f"{url}: no captured prediction with a label in the last {params.window_days:g} days "
            f"({summary.captured} captured, {summary.labels} labels)"
        )
    io.write_parquet(paths.FEEDBACK_TABLE, table)
    io.write_json(paths.FEEDBACK_SUMMARY, asdict(summary))
    log.info(
        "feedback-data: %d labelled rows (%s … %s), %s of the served model %s -> %s",
        summary.rows,
        summary.first,
        summary.last,
        summary.metric,
        f"{summary.quality:.4f}" if summary.quality is not None else "-",
        paths.FEEDBACK_TABLE,
    )
    return summary


def read_summary(path: Path = paths.FEEDBACK_SUMMARY) -> Summary | None:
    try:
        raw: dict[str, Any] = io.read_json(path)
    except (OSError, ValueError):
        return None
    return Summary(**raw)


def describe(summary: Summary) -> str:
    """Markdown for the retrain merge request (every value from outside escaped)."""
    quality = "—" if summary.quality is None else f"{summary.quality:.4f}"
    versions = ", ".join(f"{escape(v, 40)} {q:.4f}" for v, q in sorted(summary.by_version.items()))
    lines = [
        f"**{summary.rows}** labelled production rows (of {summary.captured} captured "
        f"predictions), served {escape(summary.first)} … {escape(summary.last)} (window "
        f"{summary.window_days:g} days, feedback.mode: {escape(summary.mode)}).",
        "",
        f"The served model's {summary.metric} on them: **{quality}**"
        + (f" (by version: {versions})" if versions else "")
        + ".",
    ]
    notes = []
    if summary.duplicates:
        notes.append(f"{summary.duplicates} duplicate labels removed (first label kept)")
    if summary.refused:
        notes.append(f"{summary.refused} labels left out (no class of the model / not a number)")
    if summary.left_out:
        missing = listing(summary.left_out)
        notes.append(f"not stored by capture, so missing values: {missing}")
    if notes:
        lines += [""] + [f"- {note}" for note in notes]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", default=os.environ.get("CAPTURE_URL", "capture"))
    parser.add_argument("--model-dir", type=Path, default=paths.MODEL_DIR)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        build(args.capture, args.model_dir)
    except (StageError, ConfigError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
