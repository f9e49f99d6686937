"""Predictions of a fitted model, the one way every part makes them: training (per-epoch
scores), evaluation, the offline drift report, the retrain comparison and the API's exact
(sklearn) path. A classifier's label is the class with the highest probability."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_template.core import schema
from mlops_template.core.schema import Feature


def predict(model: Any, x: Any, task: str) -> tuple[np.ndarray, np.ndarray | None]:
    """(labels, class probabilities) for classification, (values, None) for regression."""
    if task == "classification":
        proba = model.predict_proba(x)
        return model.classes_[np.argmax(proba, axis=1)], proba
    return model.predict(x), None


def predict_frame(
    pipeline: Any, frame: pd.DataFrame, features: list[Feature], task: str
) -> tuple[np.ndarray, np.ndarray | None]:
    """`predict` on the feature columns of `frame`, coerced to the schema the pipeline fit."""
    return predict(pipeline, schema.coerce(frame, features), task)


def truth(frame: pd.DataFrame, target: str, task: str) -> np.ndarray:
    """The label column as the model's labels: class names as str, or float values."""
    return frame[target].astype(str if task == "classification" else float).to_numpy()
