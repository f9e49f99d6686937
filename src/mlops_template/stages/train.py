"""Stage 3 — train: fit the model family from params, log every epoch, save the pipeline.

The saved model is one sklearn Pipeline (fitted preprocessing + estimator), so serving
applies exactly the transformations training did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from dvclive.live import Live
from scmrepo.exceptions import SCMError
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from mlops_template.core import bundle, config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.config import TrainParams
from mlops_template.core.errors import StageError
from mlops_template.core.predict import predict, truth
from mlops_template.core.schema import Feature
from mlops_template.core import transformers  # noqa: F401  (skops loads the model's steps)
from mlops_template.stages import models, progress
from mlops_template.stages.features import build_preprocessor, kept_categories

log = logging.getLogger(__name__)

SCORE_ROWS = 10_000  # training rows scored each epoch (a fixed sample; all when fewer)
FIT_ROWS = 100_000  # training rows the feature statistics are fitted on, at most


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


def row_log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Negative log probability of each row's true class (a class the model lacks counts as
    probability 0); numpy only, as it runs on two splits every epoch."""
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    p = np.where(classes[idx] == y, proba[np.arange(len(y)), idx], 0.0)
    out: np.ndarray = -np.log(np.clip(p, 1e-15, 1.0))
    return out


def log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean negative log probability of the true class."""
    return float(np.mean(row_log_loss(y, proba, classes)))


def row_scores(
    model: BaseEstimator,
    part: Split,
    task: str,
    classes: np.ndarray | None,
    y_mean: float,
    y_scale: float,
) -> progress.Rows:
    """Each row's loss (and, for classification, whether it is predicted right)."""
    pred, proba = predict(model, part.x, task)
    if proba is not None:
        assert classes is not None
        return progress.Rows(row_log_loss(part.y, proba, classes), pred == part.y)
    return progress.Rows((part.y - (pred * y_scale + y_mean)) ** 2, None)


def epoch_scores(
    model: BaseEstimator,
    part: Split,
    task: str,
    classes: np.ndarray | None,
    y_mean: float,
    y_scale: float,
) -> dict[str, float]:
    """Loss and accuracy (classification) or loss and RMSE (regression) on one split."""
    rows = row_scores(model, part, task, classes, y_mean, y_scale)
    loss = float(np.mean(rows.loss))
    if rows.correct is not None:
        return {"loss": loss, "accuracy": float(np.mean(rows.correct))}
    return {"loss": loss, "rmse": float(np.sqrt(loss))}


def sample(part: Split, rows: int, seed: int) -> Split:
    """A fixed random subset of at most `rows` rows (all of them when there are fewer)."""
    if len(part.y) <= rows:
        return part
    keep = np.sort(np.random.default_rng(seed).choice(len(part.y), rows, replace=False))
    return Split(part.x[keep], part.y[keep])


def fit(
    train: Split,
    val: Split,
    task: str,
    p: TrainParams,
    live: Live | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[BaseEstimator, list[dict[str, Any]]]:
    """Train for p.epochs epochs; return the estimator and the per-epoch history.

    `on_epoch` sees each epoch's scores (the tuner prunes trials with it). StageError
    (`progress`) when the loss is not finite, training diverges, or the final validation score
    is no better than the baseline that ignores the features."""
    model = models.build(task, p)
    classes = np.unique(train.y) if task == "classification" else None
    y_mean, y_scale = 0.0, 1.0
    y_fit = train.y
    # Gradient-trained regressors learn a standardised target; folded back after training.
    standardise = task == "regression" and p.model not in models.TREES
    if standardise:
        y_mean, y_scale = float(train.y.mean()), float(train.y.std() or 1.0)
        y_fit = (train.y - y_mean) / y_scale
    base = progress.baseline(train.y, val.y, task)
    scored = {"train": sample(train, SCORE_ROWS, p.seed), "val": val}
    # gradient boosting stops early on the validation split (its target as the model sees it)
    val_fit = (val.x, (val.y - y_mean) / y_scale if standardise else val.y)
    history: list[dict[str, Any]] = []
    for epoch in range(1, p.epochs + 1):
        models.fit_epoch(model, train.x, y_fit, epoch, p, classes, val=val_fit)
        row: dict[str, Any] = {"epoch": epoch}
        for name, part in scored.items():
            for key, value in epoch_scores(model, part, task, classes, y_mean, y_scale).items():
                row[f"{name}_{key}"] = round(value, 6) if np.isfinite(value) else value
                if live is not None and np.isfinite(value):
                    live.log_metric(f"{name}/{key}", value)
        history.append(row)
        log.info(
            "epoch %2d/%d  %s",
            epoch,
            p.epochs,
            "  ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"),
        )
        progress.check_epoch(history, p)
        if live is not None:
            live.next_step()  # type: ignore[no-untyped-call]
        if on_epoch is not None:
            on_epoch(row)
    final = row_scores(model, val, task, classes, y_mean, y_scale)
    progress.check_final(final, base, p.epochs, task, p)
    if standardise:
        models.rescale_regressor(model, y_mean, y_scale)
    return model, history


def live() -> Live:
    """DVCLive's logger for the epochs (metrics + plots; DVC tracks the files itself)."""
    try:
        return Live(dir=str(paths.DVCLIVE_DIR), dvcyaml=False, save_dvc_exp=False, report=None)
    except SCMError as exc:  # DVCLive 3 reads HEAD before it checks the repo has a commit
        raise StageError(
            f"DVCLive can't start in this git repository ({exc}): make a first commit "
            "(git add -A && git commit -m 'first commit') and run again"
        ) from None


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


def main() -> None:
    params = config.load()
    doc = io.read_json(paths.SCHEMA)
    train, val, preprocessor, features = prepare(doc, params)
    with live() as logger, models.threads(len(train.y)):
        estimator, history = fit(train, val, doc["task"], params.train, logger)
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    digest = bundle.save(pipeline, paths.MODEL)
    info = {**doc, "features": schema.to_json(features), "model": params.train.model}
    io.write_json(paths.TRAIN_INFO, {**info, "sha256": digest, "history": history})
    last = history[-1]
    log.info(
        "train: %s %s model -> %s (sha256 %s…); last epoch %s",
        params.train.model,
        doc["task"],
        paths.MODEL,
        digest[:12],
        {k: v for k, v in last.items() if k != "epoch"},
    )


if __name__ == "__main__":
    run(main)
