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
from sklearn import metrics as skm
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

from mlops_template.core import bundle, config, io, paths, schema
from mlops_template.core.cli import run
from mlops_template.core.config import TrainParams
from mlops_template.core.errors import StageError
from mlops_template.core.predict import predict, truth
from mlops_template.stages import models

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


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
        return {
            "loss": float(skm.log_loss(part.y, proba, labels=classes)),
            "accuracy": float(skm.accuracy_score(part.y, pred)),
        }
    pred = pred * y_scale + y_mean
    mse = float(skm.mean_squared_error(part.y, pred))
    return {"loss": mse, "rmse": float(np.sqrt(mse))}


def fit(
    train: Split,
    val: Split,
    task: str,
    p: TrainParams,
    live: Live | None = None,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> tuple[BaseEstimator, list[dict[str, Any]]]:
    """Train for p.epochs epochs; return the estimator and the per-epoch history.

    `on_epoch` sees each epoch's scores (the tuner prunes trials with it)."""
    model = models.build(task, p)
    classes = np.unique(train.y) if task == "classification" else None
    y_mean, y_scale = 0.0, 1.0
    y_fit = train.y
    # Gradient-trained regressors learn a standardised target; folded back after training.
    standardise = task == "regression" and p.model not in models.TREES
    if standardise:
        y_mean, y_scale = float(train.y.mean()), float(train.y.std() or 1.0)
        y_fit = (train.y - y_mean) / y_scale
    val_fit = (val.x, (val.y - y_mean) / y_scale if standardise else val.y)
    history = []
    for epoch in range(1, p.epochs + 1):
        models.fit_epoch(model, train.x, y_fit, epoch, p, classes, val=val_fit)
        row: dict[str, Any] = {"epoch": epoch}
        for name, part in (("train", train), ("val", val)):
            for key, value in epoch_scores(model, part, task, classes, y_mean, y_scale).items():
                row[f"{name}_{key}"] = round(value, 6)
                if live is not None:
                    live.log_metric(f"{name}/{key}", value)
        history.append(row)
        log.info(
            "epoch %2d/%d  %s",
            epoch,
            p.epochs,
            "  ".join(f"{k}={v:.4f}" for k, v in row.items() if k != "epoch"),
        )
        if live is not None:
            live.next_step()  # type: ignore[no-untyped-call]
        if on_epoch is not None:
            on_epoch(row)
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


def load_splits() -> tuple[dict[str, Any], Any, Split, Split]:
    """(schema document, fitted preprocessor, train split, validation split), as preprocess
    wrote them; the features already transformed (the tuner reads them the same way)."""
    doc = io.read_json(paths.SCHEMA)
    features = schema.from_json(doc["features"])
    preprocessor = bundle.load(paths.PREPROCESSOR)
    target, task = doc["target"], doc["task"]

    def split(path: Any) -> Split:
        frame = pd.read_parquet(path)
        x = preprocessor.transform(schema.coerce(frame, features))
        y = truth(frame, target, task)
        return Split(np.asarray(x, dtype=np.float64), y)

    return doc, preprocessor, split(paths.TRAIN), split(paths.VAL)


def main() -> None:
    params = config.load()
    doc, preprocessor, train, val = load_splits()
    task = doc["task"]
    with live() as logger, models.threads(len(train.y)):
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
