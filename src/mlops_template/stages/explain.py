"""Why the model decides, measured on the test split (part of the evaluate stage):

- permutation importance: how much the headline metric drops when one input column is
  shuffled (sklearn's `permutation_importance` on the whole pipeline, so the columns are the
  features a client sends, not the one-hot columns);
- per-class precision, recall, F1 and support (sklearn's classification report);
- a reliability (calibration) table: predicted probability against observed frequency;
- the per-row test predictions, which the merge request's bootstrap interval resamples.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sklearn.inspection import permutation_importance

from mlops_template.core import metrics
from mlops_template.core.config import LOWER_IS_BETTER
from mlops_template.core.predict import predict_frame
from mlops_template.core.schema import Feature

MAX_ROWS = 10_000  # importance and the per-row file use a seeded sample of larger test splits
BINS = 10  # reliability bins


def sample(n: int, seed: int = 0) -> np.ndarray:
    """Sorted row positions: all of them, or a seeded sample of MAX_ROWS."""
    if n <= MAX_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, MAX_ROWS, replace=False))


def importance(
    pipeline: Any,
    frame: pd.DataFrame,
    y: np.ndarray,
    features: list[Feature],
    task: str,
    classes: np.ndarray,
    metric: str,
    repeats: int,
    seed: int = 0,
) -> dict[str, Any]:
    """Mean and standard deviation of the drop in `metric` when each feature is shuffled,
    most important first (a negative drop: shuffling helped, i.e. the feature is noise)."""
    rows = sample(len(frame), seed)
    x = frame.iloc[rows][[f.name for f in features]].reset_index(drop=True)
    sign = -1.0 if metric in LOWER_IS_BETTER else 1.0

    def scorer(model: Any, data: pd.DataFrame, truth: np.ndarray) -> float:
        pred, proba = predict_frame(model, data, features, task)
        return sign * metrics.score(truth, pred, proba, classes)[metric]

    result = permutation_importance(
        pipeline, x, y[rows], scoring=scorer, n_repeats=repeats, random_state=seed
    )
    ranked = sorted(
        zip([f.name for f in features], result.importances_mean, result.importances_std),
        key=lambda item: -item[1],
    )
    return {
        "metric": metric,
        "repeats": repeats,
        "rows": len(rows),
        "features": [
            {"feature": name, "mean": round(float(mean), 6), "std": round(float(std), 6)}
            for name, mean, std in ranked
        ],
    }


def per_class(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> dict[str, dict[str, float]]:
    """{class: {precision, recall, f1, support}} on the test split."""
    labels = [str(c) for c in classes]
    report = skm.classification_report(y, pred, labels=labels, output_dict=True, zero_division=0)
    return {
        label: {
            "precision": round(float(report[label]["precision"]), 6),
            "recall": round(float(report[label]["recall"]), 6),
            "f1": round(float(report[label]["f1-score"]), 6),
            "support": int(report[label]["support"]),
        }
        for label in labels
    }


def calibration(y: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> list[dict[str, Any]]:
    """Reliability rows: per probability bin, the mean predicted probability and the observed
    frequency. Binary: the positive (second) class; more classes: every class one-vs-rest,
    pooled (as the ROC curve here is micro-averaged)."""
    if len(classes) == 2:
        score, hit = proba[:, 1], (y == classes[1])
    else:
        score = proba.ravel()
        hit = (y[:, None] == np.asarray(classes)[None, :]).ravel()
    which = np.clip((score * BINS).astype(int), 0, BINS - 1)
    rows = []
    for b in range(BINS):
        inside = which == b
        if inside.any():
            rows.append(
                {
                    "bin": b,
                    "predicted": round(float(score[inside].mean()), 6),
                    "observed": round(float(hit[inside].mean()), 6),
                    "ideal": round(float(score[inside].mean()), 6),  # the diagonal, for the plot
                    "count": int(inside.sum()),
                }
            )
    return rows


def fingerprint(frame: pd.DataFrame) -> str:
    """sha256 of the test split's rows (values and order): equal on two branches only when both
    models were scored on the same rows, so their errors can be paired."""
    hashed = pd.util.hash_pandas_object(frame, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def predictions(
    rows_id: str,
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    task: str,
    classes: np.ndarray,
) -> dict[str, Any]:
    """Per-row outputs (at most MAX_ROWS, seeded sample) for the bootstrap; `rows_id` names the
    rows (`fingerprint`), so two models' outputs pair only when they saw the same rows."""
    rows = sample(len(y))
    doc: dict[str, Any] = {"rows": rows_id, "total": len(y), "task": task}
    doc["classes"] = [str(c) for c in classes]
    if task == "classification":
        doc["y"] = [str(v) for v in y[rows]]
        doc["pred"] = [str(v) for v in pred[rows]]
    else:
        doc["y"] = [round(float(v), 6) for v in y[rows]]
        doc["pred"] = [round(float(v), 6) for v in pred[rows]]
    if proba is not None:
        doc["proba"] = np.round(proba[rows], 6).tolist()
    return doc
