"""Metrics shared by training (per epoch), evaluation and the quality gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm


def codes(labels: np.ndarray, classes: np.ndarray) -> np.ndarray | None:
    """Each label's position in `classes`, or None if a label is not a class. scikit-learn's
    metrics map string labels to integers in Python on every call (two thirds of the time of
    the permutation importance's 150 scorings of 10,000 rows); on the positions they take the
    numeric path, and every metric (binary F1 of `classes[1]`, macro averages, log loss,
    ROC AUC) is the same."""
    if len(classes) == 0:
        return None
    try:
        order = np.argsort(classes)
        ranked = classes[order]
        at = np.clip(np.searchsorted(ranked, labels), 0, len(classes) - 1)
        if not np.all(ranked[at] == labels):
            return None
    except TypeError:  # labels that don't compare with the classes (not this template's)
        return None
    found: np.ndarray = order[at]
    return found


def classification(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    classes: np.ndarray,
    only: str | None = None,
) -> dict[str, float]:
    """Accuracy, macro precision/recall/F1, ROC AUC (one-vs-rest when multi-class), log loss;
    with `only`, just that one (the permutation importance scores one metric 150 times)."""
    classes = np.asarray(classes)
    truth, guess = codes(y_true, classes), codes(y_pred, classes)
    if truth is not None and guess is not None:
        y_true, y_pred, classes = truth, guess, np.arange(len(classes))
    binary = len(classes) == 2
    average = "binary" if binary else "macro"
    pos = classes[1] if binary else 1
    kwargs: dict[str, Any] = {"average": average, "pos_label": pos, "zero_division": 0}
    compute: dict[str, Callable[[], Any]] = {
        "accuracy": lambda: skm.accuracy_score(y_true, y_pred),
        "precision": lambda: skm.precision_score(y_true, y_pred, **kwargs),
        "recall": lambda: skm.recall_score(y_true, y_pred, **kwargs),
        "f1": lambda: skm.f1_score(y_true, y_pred, **kwargs),
        "log_loss": lambda: skm.log_loss(y_true, proba, labels=classes),
    }
    present = np.unique(y_true)
    if len(present) == len(classes):
        if binary:
            compute["roc_auc"] = lambda: skm.roc_auc_score(y_true == classes[1], proba[:, 1])
        else:
            compute["roc_auc"] = lambda: skm.roc_auc_score(
                y_true, proba, multi_class="ovr", average="macro", labels=classes
            )
    return _rounded(compute, only)


def _rounded(compute: dict[str, Callable[[], Any]], only: str | None) -> dict[str, float]:
    names = [only] if only in compute else list(compute)
    return {name: round(float(compute[name]()), 6) for name in names}


def score(
    y: np.ndarray,
    pred: np.ndarray,
    proba: np.ndarray | None,
    classes: np.ndarray,
    only: str | None = None,
) -> dict[str, float]:
    """The test metrics: classification when there are probabilities, else regression (with
    `only`, just that metric when the task has it)."""
    if proba is not None:
        return classification(y, pred, proba, classes, only)
    return regression(y.astype(float), pred.astype(float), only)


def regression(y_true: np.ndarray, y_pred: np.ndarray, only: str | None = None) -> dict[str, float]:
    """MAE, RMSE and R²."""
    compute: dict[str, Callable[[], Any]] = {
        "mae": lambda: skm.mean_absolute_error(y_true, y_pred),
        "rmse": lambda: np.sqrt(skm.mean_squared_error(y_true, y_pred)),
        "r2": lambda: skm.r2_score(y_true, y_pred),
    }
    return _rounded(compute, only)


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
