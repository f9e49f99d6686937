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

from mlops_template.core import metrics, schema
from mlops_template.core.config import LOWER_IS_BETTER
from mlops_template.core.predict import predict, predict_frame
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
    truth = y[rows]
    split = blocks(pipeline, features)
    if split is not None:  # shuffle the encoded columns: one transform instead of one a shuffle
        encoder, estimator, outputs = split
        matrix = np.asarray(encoder.transform(schema.coerce(x, features)), dtype=np.float64)

        def on_matrix(data: np.ndarray) -> float:
            pred, proba = predict(estimator, data, task)
            return sign * metrics.score(truth, pred, proba, classes, only=metric)[metric]

        means, stds = shuffled_drops(matrix, outputs, on_matrix, repeats, seed)
    else:

        def scorer(model: Any, data: pd.DataFrame, labels: np.ndarray) -> float:
            pred, proba = predict_frame(model, data, features, task)
            return sign * metrics.score(labels, pred, proba, classes, only=metric)[metric]

        result = permutation_importance(
            pipeline, x, truth, scoring=scorer, n_repeats=repeats, random_state=seed
        )
        means, stds = result.importances_mean, result.importances_std
    ranked = sorted(
        zip([f.name for f in features], means, stds),
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


COLUMN_WISE = (["SimpleImputer", "StandardScaler"], ["SimpleImputer", "StandardScaler", "Clip"])


def blocks(pipeline: Any, features: list[Feature]) -> tuple[Any, Any, list[list[int]]] | None:
    """(preprocessing, estimator, the encoded columns of each feature) when the pipeline's
    preprocessing works column by column (this template's: imputer, scaler and clip per
    number, imputer and one-hot per category). Shuffling a feature's rows is then shuffling
    its encoded columns' rows. None for any other pipeline."""
    steps = getattr(pipeline, "steps", [])
    if len(steps) != 2 or type(steps[0][1]).__name__ != "ColumnTransformer":
        return None
    encoder, estimator = steps[0][1], steps[1][1]
    position = {f.name: i for i, f in enumerate(features)}
    columns: list[list[int] | None] = [None] * len(features)
    for name, part, names in encoder.transformers_:
        if name == "remainder":
            if part != "drop" and len(names):
                return None
            continue
        kinds = [type(step).__name__ for _, step in getattr(part, "steps", [])]
        if kinds in COLUMN_WISE:
            widths = [1] * len(names)
        elif kinds == ["SimpleImputer", "OneHotEncoder"] and part.steps[1][1].drop is None:
            onehot = part.steps[1][1]
            rare = getattr(onehot, "infrequent_categories_", [None] * len(names))
            widths = [
                len(cats) - (0 if r is None else len(r) - 1)
                for cats, r in zip(onehot.categories_, rare)
            ]
        else:
            return None
        span = encoder.output_indices_[name]
        start = span.start
        for column, width in zip(names, widths):
            columns[position[column]] = list(range(start, start + width))
            start += width
        if start != span.stop:
            return None
    if any(c is None for c in columns):
        return None
    return encoder, estimator, [c for c in columns if c is not None]


def shuffled_drops(
    matrix: np.ndarray,
    outputs: list[list[int]],
    score: Any,
    repeats: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """sklearn's permutation_importance on the encoded matrix, shuffling each feature's columns
    together: the same seeds and the same cumulative shuffles, so the same numbers."""
    base = score(matrix)
    feature_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    drops = np.empty((len(outputs), repeats))
    for j, cols in enumerate(outputs):
        rng = np.random.RandomState(feature_seed)
        shuffled = matrix.copy()
        order = np.arange(len(matrix))
        for r in range(repeats):
            rng.shuffle(order)
            shuffled[:, cols] = shuffled[np.ix_(order, np.asarray(cols))]
            drops[j, r] = base - score(shuffled)
    return drops.mean(axis=1), drops.std(axis=1)


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
