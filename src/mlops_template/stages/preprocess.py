"""Stage 2 — preprocess: clean, split, infer the schema, fit the feature preprocessing."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_template.core import bundle, config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.core.config import PreprocessParams
from mlops_template.core.schema import Feature

log = logging.getLogger(__name__)

Splits = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]


def clean(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """Drop duplicate rows and rows without a label."""
    return frame.drop_duplicates().dropna(subset=[target]).reset_index(drop=True)


def split(frame: pd.DataFrame, target: str, task: str, params: PreprocessParams) -> Splits:
    """Seeded train/validation/test split, stratified for classification."""

    def strata(part: pd.DataFrame) -> pd.Series | None:
        return part[target] if task == "classification" else None

    try:
        rest, test = train_test_split(
            frame, test_size=params.test_size, random_state=params.seed, stratify=strata(frame)
        )
        train, val = train_test_split(
            rest, test_size=params.val_size, random_state=params.seed, stratify=strata(rest)
        )
    except ValueError as exc:
        raise StageError(f"column '{target}': can't split the data ({exc})") from exc
    return train.reset_index(drop=True), val.reset_index(drop=True), test.reset_index(drop=True)


def build_preprocessor(features: list[Feature]) -> ColumnTransformer:
    """Impute and scale numbers, impute and one-hot encode categories (unseen → all zeros)."""
    numeric = [f.name for f in features if f.kind != "categorical"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps = [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encode = OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        impute = SimpleImputer(strategy="constant", fill_value=schema.MISSING)
        transformers.append(
            ("categorical", Pipeline([("impute", impute), ("onehot", encode)]), categorical)
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def describe(train: pd.DataFrame, target: str, task: str) -> dict[str, Any]:
    """The schema document: task, target, classes and one entry per feature."""
    features = schema.infer(train.drop(columns=[target]))
    classes = sorted({str(v) for v in train[target]}) if task == "classification" else []
    return {
        "task": task,
        "target": target,
        "classes": classes,
        "features": schema.to_json(features),
    }


def main() -> None:
    params = config.load()
    data = params.data
    raw = pd.read_parquet(paths.RAW)
    if data.target not in raw.columns:
        raise StageError(
            f"{paths.RAW}: target column '{data.target}' not found; rerun the load stage"
        )
    frame = clean(raw, data.target)
    task = data.task or schema.infer_task(frame[data.target])
    if task == "classification":
        frame[data.target] = frame[data.target].astype(str)
    train, val, test = split(frame, data.target, task, params.preprocess)
    doc = describe(train, data.target, task)
    features = schema.from_json(doc["features"])
    preprocessor = build_preprocessor(features).fit(schema.coerce(train, features))
    for path, part in ((paths.TRAIN, train), (paths.VAL, val), (paths.TEST, test)):
        io.write_parquet(path, part)
    io.write_json(paths.SCHEMA, doc)
    bundle.save(preprocessor, paths.PREPROCESSOR)
    log.info(
        "preprocess: %d rows after cleaning (%d dropped) -> train %d / val %d / test %d; task %s",
        len(frame),
        len(raw) - len(frame),
        len(train),
        len(val),
        len(test),
        task,
    )


if __name__ == "__main__":
    run(main)
