"""Stage 3 — train: fit the model family from params, log every epoch, save the pipeline.

The saved model is one sklearn Pipeline (fitted preprocessing + estimator), so serving
applies exactly the transformations training did.
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

SCORE_ROWS = 10_000  # training rows scored each epoch (a fixed sample; all when fewer)
CHUNK_ROWS = 100_000  # rows preprocessed at a time


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


def log_loss(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> float:
    """Mean negative log probability of the true class (a class the model lacks counts as
    probability 0); numpy only, as it runs on two splits every epoch."""
    idx = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
    p = np.where(classes[idx] == y, proba[np.arange(len(y)), idx], 0.0)
    return float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))


def epoch_scores(
    model: BaseEstimator,
    part: Split,
    task: str,
    classes: np.ndarray | None,
    y_mean: float,
    y_scale: float,
) -> dict[str, float]:
    """Loss and accuracy (classification) or loss and RMSE (regression) on one split."""
    pred, proba = predict(model, part.x, task)
    if proba is not None:
        assert classes is not None
        return {
            "loss": log_loss(part.y, proba, classes),
            "accuracy": float(np.mean(pred == part.y)),
        }
    pred = pred * y_scale + y_mean
    mse = float(np.mean((part.y - pred) ** 2))
    return {"loss": mse, "rmse": float(np.sqrt(mse))}


def sample(part: Split, rows: int, seed: int) -> Split:
    """A fixed random subset of at most `rows` rows (all of them when there are fewer)."""
    if len(part.y) <= rows:
        return part
    keep = np.sort(np.random.default_rng(seed).choice(len(part.y), rows, replace=False))
    return Split(part.x[keep], part.y[keep])


def fit(
    train: Split, val: Split, task: str, p: TrainParams, live: Live | None = None
) -> tuple[BaseEstimator, list[dict[str, Any]]]:
    """Train for p.epochs epochs; return the estimator and the per-epoch history.

    StageError (`progress`) when the loss is not finite, training diverges, or the final
    validation score is no better than the baseline that ignores the features."""
    model = models.build(task, p)
    classes = np.unique(train.y) if task == "classification" else None
    y_mean, y_scale = 0.0, 1.0
    y_fit = train.y
    # Gradient-trained regressors learn a standardised target; folded back after training.
    standardise = task == "regression" and p.model != "random_forest"
    if standardise:
        y_mean, y_scale = float(train.y.mean()), float(train.y.std() or 1.0)
        y_fit = (train.y - y_mean) / y_scale
    base = progress.baseline(train.y, val.y, task)
    scored = {"train": sample(train, SCORE_ROWS, p.seed), "val": val}
    history: list[dict[str, Any]] = []
    for epoch in range(1, p.epochs + 1):
        models.fit_epoch(model, train.x, y_fit, epoch, p, classes)
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
    progress.check_final(history[-1], base, task, p)
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


def matrix(path: Any, preprocessor: Any, features: list[Feature], target: str, task: str) -> Split:
    """One split as the model's input: preprocessed in chunks into one float64 array, so the
    peak memory is the table plus the matrix, not several copies of either."""
    frame = pd.read_parquet(path, columns=[*(f.name for f in features), target])
    y = truth(frame, target, task)
    x: np.ndarray | None = None
    for start in range(0, len(frame), CHUNK_ROWS):
        part = np.asarray(
            preprocessor.transform(schema.coerce(frame.iloc[start : start + CHUNK_ROWS], features)),
            dtype=np.float64,
        )
        if x is None:
            x = np.empty((len(frame), part.shape[1]))
        x[start : start + len(part)] = part
    assert x is not None
    return Split(x, y)


def main() -> None:
    params = config.load()
    doc = io.read_json(paths.SCHEMA)
    features = schema.from_json(doc["features"])
    preprocessor = bundle.load(paths.PREPROCESSOR)
    target, task = doc["target"], doc["task"]
    train = matrix(paths.TRAIN, preprocessor, features, target, task)
    val = matrix(paths.VAL, preprocessor, features, target, task)
    with live() as logger:
        estimator, history = fit(train, val, task, params.train, logger)
    pipeline = Pipeline([("preprocess", preprocessor), ("model", estimator)])
    digest = bundle.save(pipeline, paths.MODEL)
    io.write_json(
        paths.TRAIN_INFO, {**doc, "model": params.train.model, "sha256": digest, "history": history}
    )
    last = history[-1]
    log.info(
        "train: %s %s model -> %s (sha256 %s…); last epoch %s",
        params.train.model,
        task,
        paths.MODEL,
        digest[:12],
        {k: v for k, v in last.items() if k != "epoch"},
    )


if __name__ == "__main__":
    run(main)
