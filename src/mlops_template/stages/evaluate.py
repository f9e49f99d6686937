"""Stage 4 — evaluate: test metrics, plots, drift reference, and the final model card."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlops_template.core import bundle, card, config, drift, io, metrics, paths, schema
from mlops_template.core.predict import predict_frame, truth
from mlops_template.stages import explain, models

log = logging.getLogger(__name__)


def plots(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, list[dict[str, Any]]]:
    """Plot data for DVC: confusion, ROC, precision-recall; or predicted-vs-actual, residuals."""
    if proba is None:
        rows = [
            {
                "actual": round(float(a), 6),
                "predicted": round(float(p), 6),
                "residual": round(float(a - p), 6),
            }
            for a, p in zip(y, pred)
        ]
        return {"predictions": rows}
    if len(classes) == 2:
        truth, score_ = (y == classes[1]).astype(int), proba[:, 1]
    else:  # micro-average over one-vs-rest
        truth = (y[:, None] == classes[None, :]).astype(int).ravel()
        score_ = proba.ravel()
    fpr, tpr, _ = skm.roc_curve(truth, score_)
    precision, recall, _ = skm.precision_recall_curve(truth, score_)
    return {
        "confusion": [{"actual": str(a), "predicted": str(p)} for a, p in zip(y, pred)],
        "roc": [{"fpr": round(float(f), 6), "tpr": round(float(t), 6)} for f, t in zip(fpr, tpr)],
        "precision_recall": [
            {"recall": round(float(r), 6), "precision": round(float(p), 6)}
            for r, p in zip(recall, precision)
        ],
    }


def main() -> None:
    params = config.load()
    info = io.read_json(paths.TRAIN_INFO)
    features = schema.from_json(info["features"])
    task, target = info["task"], info["target"]
    model = bundle.load(paths.MODEL, expected_sha256=info["sha256"])
    classes = np.asarray(info["classes"], dtype=object)

    test = pd.read_parquet(paths.TEST)
    y = truth(test, target, task)
    pred, proba = predict_frame(model, test, features, task)
    scores = metrics.score(y, pred, proba, classes)
    for name, rows in plots(y, pred, proba, classes).items():
        io.write_json(paths.PLOTS / f"{name}.json", rows)

    train = pd.read_parquet(paths.TRAIN)
    train_pred, _ = predict_frame(model, train, features, task)
    reference = drift.reference(
        schema.coerce(train, features),
        features,
        train_pred,
        task,
        info["classes"],
        params.evaluate.drift_bins,
    )
    io.write_json(paths.METRICS, scores)
    headline = params.gate.metric if params.gate.metric in scores else next(iter(scores))
    with models.threads(len(test)):
        importance = explain.importance(
            model, test, y, features, task, classes, headline, params.evaluate.importance_repeats
        )
    io.write_json(paths.IMPORTANCE, importance)
    io.write_json(paths.PER_CLASS, explain.per_class(y, pred, classes) if proba is not None else {})
    if proba is not None:
        io.write_json(paths.PLOTS / "calibration.json", explain.calibration(y, proba, classes))
    io.write_json(
        paths.PREDICTIONS,
        explain.predictions(explain.fingerprint(test), y, pred, proba, task, classes),
    )
    model_card = card.build(
        info, scores, config.as_dict(params), reference, paths.MODEL.name, importance
    )
    card.write(model_card, paths.MODEL_CARD)
    log.info(
        "evaluate: test metrics %s -> %s, model card %s", scores, paths.METRICS, paths.MODEL_CARD
    )


if __name__ == "__main__":
    from mlops_template.core.cli import run

    run(main)
