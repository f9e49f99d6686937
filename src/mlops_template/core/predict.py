"""Predictions of a fitted model, the one way every part makes them: training (per-epoch
scores), evaluation, the offline drift report, the retrain comparison and the API's exact
(sklearn) path. A classifier's label is the class with the highest probability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import schema
from mlops_template.core.schema import Feature

SHORT_LABEL = 32  # characters; longer class names stay Python strings (no fixed-width copy)


def predict(model: Any, x: Any, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels, class probabilities) for classification, (values, None) for regression."""
    if task == "classification":
        proba = model.predict_proba(x)
        return model.classes_[np.argmax(proba, axis=1)], proba
    return model.predict(x), None


def predict_frame(
    pipeline: Any,
    frame: pd.DataFrame,
    features: list[Feature],
    task: str,
    chunk_rows: int | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """`predict` on the feature columns of `frame`, coerced to the schema the pipeline fit;
    `chunk_rows` at a time if given (the preprocessing copies a chunk, not the frame)."""
    if chunk_rows is None or len(frame) <= chunk_rows:
        return predict(pipeline, schema.coerce(frame, features), task)
    parts = [
        predict(pipeline, schema.coerce(frame.iloc[start : start + chunk_rows], features), task)
        for start in range(0, len(frame), chunk_rows)
    ]
    values = np.concatenate([v for v, _ in parts])
    probas = [p for _, p in parts if p is not None]
    return values, (np.concatenate(probas) if probas else None)


def truth(frame: pd.DataFrame, target: str, task: str) -> np.ndarray:
    """The label column as the model's labels: class names as str, or float values.

    Class names come as a fixed-width unicode array when they are short: sklearn sorts the
    labels on every partial_fit, over ten times faster than for an array of Python objects."""
    if task != "classification":
        return frame[target].astype(float).to_numpy()
    labels = frame[target].astype(str).to_numpy()
    longest = max(map(len, pd.unique(labels)), default=0)
    return labels.astype(str) if longest <= SHORT_LABEL else labels
