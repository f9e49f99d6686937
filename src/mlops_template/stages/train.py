"""Stage 3 — train: fit the model family from params, log every epoch, save the pipeline.

The saved model is one sklearn Pipeline (fitted preprocessing + estimator), so serving
applies exactly the transformations training did.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from dvclive.live import Live
from scmrepo.exceptions import SCMError
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from mlops_template.core import bundle, config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.config import TrainParams
from mlops_template.core.errors import StageError
from mlops_template.core.predict import predict
from mlops_template.core import transformers  # noqa: F401  (skops loads the model's steps)
from mlops_template.stages import models, progress
from mlops_template.stages.encoding import Split, prepare

log = logging.getLogger(__name__)

SCORE_ROWS = 10_000  # training rows scored each epoch (a fixed sample; all when fewer)


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
