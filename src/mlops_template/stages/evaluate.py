"""Stage 4 — evaluate: test metrics, plots, drift reference, and the final model card."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from mlops_template.core import bundle, card, config, drift, io, metrics, paths, schema
from mlops_template.core.predict import predict_frame, truth
from mlops_template.core import transformers  # noqa: F401  (skops loads the model's steps)
from mlops_template.stages import explain, models

log = logging.getLogger(__name__)

CHUNK_ROWS = 100_000  # rows predicted at a time
PLOT_ROWS = 10_000  # test rows in the confusion / predictions plots, at most
PLOT_POINTS = 1_000  # points per ROC / precision-recall curve, at most


def sample(y: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most PLOT_ROWS rows (a seeded sample, in order)."""
    if len(y) <= PLOT_ROWS:
        return y, pred
    keep = np.sort(np.random.default_rng(0).choice(len(y), PLOT_ROWS, replace=False))
    return y[keep], pred[keep]


def thin(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """At most PLOT_POINTS evenly spaced points of a curve, its ends kept."""
    if len(a) <= PLOT_POINTS:
        return a, b
    keep = np.unique(np.linspace(0, len(a) - 1, PLOT_POINTS).round().astype(int))
    return a[keep], b[keep]


def plots(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, list[dict[str, Any]]]:
    """Plot data for DVC: confusion, ROC, precision-recall; or predicted-vs-actual, residuals.

    At most PLOT_ROWS test rows (a seeded sample) and PLOT_POINTS points per curve: the files
    are committed with the model and rendered in the merge request."""
    if proba is None:
        y, pred = sample(y, pred)
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
    fpr, tpr = thin(*skm.roc_curve(truth, score_)[:2])
    precision, recall = thin(*skm.precision_recall_curve(truth, score_)[:2])
    y, pred = sample(y, pred)
    return {
        "confusion": [{"actual": str(a), "predicted": str(p)} for a, p in zip(y, pred)],
        "roc": [{"fpr": round(float(f), 6), "tpr": round(float(t), 6)} for f, t in zip(fpr, tpr)],
        "precision_recall": [
            {"recall": round(float(r), 6), "precision": round(float(p), 6)}
            for r, p in zip(recall, precision)
        ],
    }


def training_reference(
    model: Any, features: list[schema.Feature], task: str, classes: list[str], params: config.Params
) -> drift.DriftReference:
    """The drift reference of the training split, read a row group at a time to predict and a
    column at a time to bin: the split is never held whole (at 1M rows it was a third of the
    stage's peak memory)."""
    names = [f.name for f in features]
    pred = [
        predict_frame(model, c, features, task)[0] for c in io.parquet_chunks(paths.TRAIN, names)
    ]

    def column(feature: schema.Feature) -> pd.Series:
        return schema.coerce(io.read_parquet(paths.TRAIN, [feature.name]), [feature])[feature.name]

    bins = params.evaluate.drift_bins
    return drift.reference(column, features, np.concatenate(pred), task, classes, bins)


def main() -> None:
    params = config.load()
    info = io.read_json(paths.TRAIN_INFO)
    features = schema.from_json(info["features"])
    task, target = info["task"], info["target"]
    model = bundle.load(paths.MODEL, expected_sha256=info["sha256"])
    classes = np.asarray(info["classes"], dtype=object)

    columns = [*(f.name for f in features), target]
    test = io.read_parquet(paths.TEST, columns)
    y = truth(test, target, task)
    pred, proba = predict_frame(model, test, features, task, CHUNK_ROWS)
    scores = metrics.score(y, pred, proba, classes)
    for name, rows in plots(y, pred, proba, classes).items():
        io.write_json(paths.PLOTS / f"{name}.json", rows)
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

    del test  # the training split is read next: one split in memory at a time
    train_y = truth(io.read_parquet(paths.TRAIN, [target]), target, task)
    scores.update(metrics.baseline(train_y, y, classes, task))
    del train_y
    reference = training_reference(model, features, task, info["classes"], params)
    io.write_json(paths.METRICS, scores)
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
