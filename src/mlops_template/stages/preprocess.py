"""Stage 2 — preprocess: clean, split, infer the schema, fit the feature preprocessing.

Which columns are features: all but the label, minus ID-like columns (unless
`preprocess.keep_ids`) and a group split's column; date/time columns become their numeric
parts (`stages/columns.py`). The encoding of the features is fitted with the model in the
train stage (`stages/features.py`), so this stage needs neither scikit-learn nor skops.
"""

from __future__ import annotations

import logging

import pandas as pd

from mlops_template.core import config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.config import PreprocessParams
from mlops_template.core.errors import StageError
from mlops_template.stages import cells, columns, splits

log = logging.getLogger(__name__)


def feature_columns(
    frame: pd.DataFrame, target: str, p: PreprocessParams
) -> tuple[list[str], list[str]]:
    """(feature columns, ignored columns): ID-like ones (unless keep_ids) and a group column."""
    ignored = [] if p.keep_ids else columns.id_like(frame, exclude=(target,))
    if p.split == "group" and p.split_column and p.split_column not in ignored:
        ignored.append(p.split_column)
    return [str(c) for c in frame.columns if c != target and c not in ignored], ignored


def main() -> None:
    params = config.load()
    data, p = params.data, params.preprocess
    raw = io.read_parquet(paths.RAW)
    if data.target not in raw.columns:
        raise StageError(
            f"{paths.RAW}: target column '{data.target}' not found; rerun the load stage"
        )
    labels = raw[data.target].dropna()
    task = data.task or schema.infer_task(labels)
    chosen = "data.task" if data.task else schema.task_reason(labels, task)
    del labels
    frame, done = splits.clean(raw, data.target, task, p.dedupe)
    del raw
    splits.check_cleaning(done, data.target, p)
    if task == "classification":
        frame[data.target] = cells.strip_labels(frame[data.target])
    infinite = cells.infinities_to_missing(frame, data.target)
    parts = splits.split(frame, data.target, task, p)
    splits.check_sizes(parts, done, data)
    if task == "classification":
        splits.check_classes(parts, frame[data.target])
    dates = columns.date_parts(frame, columns.date_columns(frame, exclude=(data.target,)))
    names, ignored = feature_columns(frame, data.target, p)
    unseen = cells.empty_in(frame, names, parts.train)
    if unseen:
        names = [n for n in names if n not in unseen]
        ignored += unseen
    if ignored:
        frame = frame[[*names, data.target]]
    for path, rows in (
        (paths.VAL, parts.val),
        (paths.TEST, parts.test),
        (paths.TRAIN, parts.train),
    ):
        io.write_parquet(path, frame, rows)
    features = schema.infer(frame[names], rows=parts.train)
    labels = frame[data.target].iloc[parts.train]
    classes = sorted({str(v) for v in labels.unique()}) if task == "classification" else []
    doc = {
        "task": task,
        "target": data.target,
        "classes": classes,
        "features": schema.to_json(features),
        "ignored": ignored,
    }
    io.write_json(paths.SCHEMA, doc)
    log_summary(
        done, parts, f"{task} ({chosen})", p, [c for c in ignored if c not in unseen], dates
    )
    for name in unseen:
        log.warning(
            f"preprocess: column '{name}' has no value in the training split: not a feature"
        )
    for name, count in infinite.items():
        log.info(f"preprocess: column '{name}': {count:,} infinite value(s) taken as missing")
    for name in cells.leaks(frame, names, data.target, parts.train, task):
        log.warning(
            f"preprocess: column '{name}' gives the label '{data.target}' away in every "
            "training row: a leak? The model will look perfect here and fail where the "
            "column isn't known before the label; drop the column if so"
        )


def log_summary(
    done: splits.Cleaned,
    parts: splits.Split,
    task: str,
    p: PreprocessParams,
    ignored: list[str],
    dates: dict[str, list[str]],
) -> None:
    removed = []
    if done.duplicates:
        removed.append(f"{done.duplicates:,} duplicate rows (preprocess.dedupe)")
    if done.invalid:
        removed.append(f"{done.invalid:,} rows with an infinite label")
    sizes = f"train {len(parts.train):,} / val {len(parts.val):,} / test {len(parts.test):,}"
    log.info(
        f"preprocess: {done.rows:,} rows, {done.unlabelled:,} without a label; "
        f"{'removed ' + ', '.join(removed) if removed else 'no labelled row removed'} "
        f"-> {sizes} ({p.split} split); task {task}"
    )
    if ignored:
        log.info(
            f"preprocess: not features: {', '.join(ignored)} (ID-like or the group column; "
            "preprocess.keep_ids: true keeps ID-like ones)"
        )
    for name, made in dates.items():
        log.info(f"preprocess: date column '{name}' -> {', '.join(made)}")


if __name__ == "__main__":
    run(main)
