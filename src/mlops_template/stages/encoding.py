"""The train and validation splits as the model's input: the feature preprocessing fitted on
(a sample of) the training split, then each split encoded a row group at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import config, io, paths, schema
from mlops_template.core.predict import truth
from mlops_template.core.schema import Feature
from mlops_template.stages.features import build_preprocessor, kept_categories

FIT_ROWS = 100_000  # training rows the feature statistics are fitted on, at most


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


def fit_sample(rows: int, seed: int) -> np.ndarray | None:
    """Positions of the training rows the feature statistics are fitted on: all (None) up to
    FIT_ROWS rows, else a seeded sample of FIT_ROWS rows. Medians, means, scales and category
    shares of a sample that large are the table's to a few decimals (HistGradientBoosting
    bins on a sample the same way); fitting them on every row of a big table took four times
    the table's memory (the median imputer sorts masked copies). The model sees every row."""
    if rows <= FIT_ROWS:
        return None
    return np.sort(np.random.default_rng(seed).choice(rows, FIT_ROWS, replace=False))


def fit_preprocessor(
    path: Any, features: list[Feature], preprocessor: Any, rows: np.ndarray | None
) -> Any:
    """`preprocessor` fitted on the rows at positions `rows` of the split (all if None)."""
    picked, start = [], 0
    for chunk in io.parquet_chunks(path, [f.name for f in features]):
        if rows is None:
            picked.append(chunk)
        else:
            inside = rows[(rows >= start) & (rows < start + len(chunk))] - start
            picked.append(chunk.iloc[inside])
        start += len(chunk)
    sample = pd.concat(picked, ignore_index=True) if len(picked) > 1 else picked[0]
    del picked
    return preprocessor.fit(schema.coerce(sample, features))


def encode(path: Any, features: list[Feature], target: str, task: str, preprocessor: Any) -> Split:
    """One split as the model's input, a row group at a time into one float64 array: the
    peak memory is the matrix plus one row group, not copies of the table."""
    x: np.ndarray | None = None
    labels, start, n = [], 0, io.parquet_rows(path)
    for chunk in io.parquet_chunks(path, [*(f.name for f in features), target]):
        part = np.asarray(preprocessor.transform(schema.coerce(chunk, features)), dtype=np.float64)
        if x is None:
            x = np.empty((n, part.shape[1]))
        x[start : start + len(part)] = part
        labels.append(truth(chunk, target, task))
        start += len(chunk)
    assert x is not None, f"{path}: no rows"
    return Split(x, np.concatenate(labels))


def prepare(doc: dict[str, Any], params: config.Params) -> tuple[Split, Split, Any, list[Feature]]:
    """Fit the feature preprocessing on the training split; (train, val, preprocessor,
    features with each categorical one's categories cut to those that keep a column)."""
    features = schema.from_json(doc["features"])
    target, task = doc["target"], doc["task"]
    rows = io.parquet_rows(paths.TRAIN)
    sample = fit_sample(rows, params.train.seed)
    preprocessor = build_preprocessor(features, params.preprocess)
    if sample is not None and any(f.kind == "categorical" for f in features):
        # min_frequency counts training rows: the same share of the sample
        share = params.preprocess.min_frequency / rows
        preprocessor.set_params(categorical__onehot__min_frequency=share)
    preprocessor = fit_preprocessor(paths.TRAIN, features, preprocessor, sample)
    train = encode(paths.TRAIN, features, target, task, preprocessor)
    val = encode(paths.VAL, features, target, task, preprocessor)
    return train, val, preprocessor, kept_categories(preprocessor, features)


def load_splits(params: config.Params) -> tuple[dict[str, Any], Any, Split, Split]:
    """(schema document, fitted preprocessor, train split, validation split): what `prepare`
    makes of preprocess's outputs (the tuner reads the splits the same way)."""
    doc = io.read_json(paths.SCHEMA)
    train, val, preprocessor, _ = prepare(doc, params)
    return doc, preprocessor, train, val
