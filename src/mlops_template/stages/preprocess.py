"""Stage 2 — preprocess: clean, split, infer the schema, fit the feature preprocessing.

Which columns are features: all but the label, minus ID-like columns (unless
`preprocess.keep_ids`) and a group split's column; date/time columns become their numeric
parts (`stages/columns.py`). Numbers are median-imputed, standardised and clipped to
± `preprocess.clip`; categories one-hot encoded, the rare ones (fewer than
`preprocess.min_frequency` training rows, or beyond `preprocess.max_categories`) and unseen
ones sharing one "other" column.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_template.core import bundle, config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.config import PreprocessParams
from mlops_template.core.errors import StageError
from mlops_template.core.schema import Feature
from mlops_template.core.transformers import Clip
from mlops_template.stages import columns, splits

log = logging.getLogger(__name__)


def build_preprocessor(
    features: list[Feature], params: PreprocessParams | None = None
) -> ColumnTransformer:
    """Impute, scale (and clip) numbers; impute and one-hot encode categories, rare and unseen
    ones in one "other" column."""
    p = params or PreprocessParams()
    numeric = [f.name for f in features if f.kind != "categorical"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler()),
        ]
        if p.clip is not None:
            steps.append(("clip", Clip(limit=p.clip, copy=False)))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encode = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            sparse_output=False,
            max_categories=p.max_categories,
            min_frequency=p.min_frequency,
        )
        impute = SimpleImputer(strategy="constant", fill_value=schema.MISSING)
        transformers.append(
            ("categorical", Pipeline([("impute", impute), ("onehot", encode)]), categorical)
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def kept_categories(preprocessor: ColumnTransformer, features: list[Feature]) -> list[Feature]:
    """`features` with each categorical one's categories cut to those the encoder keeps as
    their own column (the rest share "other"), so the card, the API schema and the drift
    metrics stay small whatever the cardinality."""
    kept: dict[str, tuple[str, ...]] = {}
    for name, part, cols in preprocessor.transformers_:
        if name != "categorical":
            continue
        encoder = part.named_steps["onehot"]
        infrequent = encoder.infrequent_categories_
        for col, cats, rare in zip(cols, encoder.categories_, infrequent):
            rare_set = set() if rare is None else {str(c) for c in rare}
            kept[col] = tuple(
                str(c) for c in cats if str(c) not in rare_set and str(c) != schema.MISSING
            )
    return [
        dataclasses.replace(f, categories=kept[f.name]) if f.name in kept else f for f in features
    ]


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
    raw = pd.read_parquet(paths.RAW)
    if data.target not in raw.columns:
        raise StageError(
            f"{paths.RAW}: target column '{data.target}' not found; rerun the load stage"
        )
    labels = raw[data.target].dropna()
    task = data.task or schema.infer_task(labels)
    del labels
    frame, done = splits.clean(raw, data.target, task, p.dedupe)
    del raw
    splits.check_cleaning(done, data.target, p)
    if task == "classification":
        frame[data.target] = frame[data.target].astype(str)
    parts = splits.split(frame, data.target, task, p)
    splits.check_sizes(parts, done, data)
    dates = columns.date_parts(frame, columns.date_columns(frame, exclude=(data.target,)))
    names, ignored = feature_columns(frame, data.target, p)
    if ignored:
        frame = frame[[*names, data.target]]
    for path, rows in (
        (paths.VAL, parts.val),
        (paths.TEST, parts.test),
        (paths.TRAIN, parts.train),
    ):
        io.write_parquet(path, frame.iloc[rows])
    train = frame.iloc[parts.train]
    del frame
    features = schema.infer(train.drop(columns=[data.target]))
    preprocessor = build_preprocessor(features, p).fit(schema.coerce(train, features))
    features = kept_categories(preprocessor, features)
    classes = sorted({str(v) for v in train[data.target]}) if task == "classification" else []
    doc = {
        "task": task,
        "target": data.target,
        "classes": classes,
        "features": schema.to_json(features),
        "ignored": ignored,
    }
    io.write_json(paths.SCHEMA, doc)
    bundle.save(preprocessor, paths.PREPROCESSOR)
    log_summary(done, parts, task, p, ignored, dates)


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
