"""Metrics shared by training (per epoch), evaluation and the quality gate."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def classification(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, classes: np.ndarray
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, ROC AUC (one-vs-rest when multi-class), log loss."""
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = classes[1] if binary else 1
    scores = {
        "accuracy": skm.accuracy_score(y_true, y_pred),
        "precision": skm.precision_score(
            y_true, y_pred, average=average, pos_label=pos, zero_division=0
        ),
        "recall": skm.recall_score(y_true, y_pred, average=average, pos_label=pos, zero_division=0),
        "f1": skm.f1_score(y_true, y_pred, average=average, pos_label=pos, zero_division=0),
        "log_loss": skm.log_loss(y_true, proba, labels=classes),
    }
    present = np.unique(y_true)
    if len(present) == len(classes):
        if binary:
            scores["roc_auc"] = skm.roc_auc_score(y_true == classes[1], proba[:, 1])
        else:
            scores["roc_auc"] = skm.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=classes
            )
    return {k: round(float(v), 6) for k, v in scores.items()}


def score(
    y: np.ndarray, pred: np.ndarray, proba: np.ndarray | None, classes: np.ndarray
) -> dict[str, float]:
    """The test metrics: classification when there are probabilities, else regression."""
    if proba is not None:
        return classification(y, pred, proba, classes)
    return regression(y.astype(float), pred.astype(float))


def regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """MAE, RMSE and R²."""
    scores = {
        "mae": skm.mean_absolute_error(y_true, y_pred),
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, y_pred))),
        "r2": skm.r2_score(y_true, y_pred),
    }
    return {k: round(float(v), 6) for k, v in scores.items()}


BASELINE_PREFIX = "baseline_"


def baseline(
    y_train: np.ndarray, y_test: np.ndarray, classes: np.ndarray, task: str
) -> dict[str, float]:
    """The test metrics of the prediction that ignores the features, as `baseline_<metric>`:
    the training split's majority class with its class shares as probabilities, or its mean."""
    if task == "classification":
        shares = np.array([np.mean(y_train == c) for c in classes], dtype=float)
        majority = classes[int(np.argmax(shares))]
        pred = np.full_like(y_test, majority)  # y_test's dtype: sklearn is slow on objects
        proba = np.tile(shares, (len(y_test), 1))
        scores = classification(y_test, pred, proba, classes)
    else:
        mean = float(np.mean(y_train.astype(float)))
        scores = regression(y_test.astype(float), np.full(len(y_test), mean))
    return {f"{BASELINE_PREFIX}{k}": v for k, v in scores.items()}
