"""A bootstrap confidence interval for the change of the headline metric against the baseline
branch's model, from both branches' per-row test outputs (reports/predictions.json).

On the default data one test row is about 0.9 points of accuracy, so a drop of 0.02 can be
noise. When both models were scored on the same rows (equal row fingerprints) the rows are
resampled *paired* — the same rows for both models, which cancels the luck of the split;
otherwise each model's rows are resampled on their own (a wider, unpaired interval).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_template.core import metrics
from mlops_template.core.config import LOWER_IS_BETTER

Outputs = dict[str, Any]  # the content of reports/predictions.json


@dataclass(frozen=True)
class Interval:
    metric: str
    new: float
    baseline: float
    low: float  # of new − baseline
    high: float
    confidence: float
    resamples: int
    rows: int
    paired: bool
    split: str = "test"

    @property
    def difference(self) -> float:
        return self.new - self.baseline

    @property
    def verdict(self) -> str:
        """ "better" or "worse" when the whole interval says so, else "within noise"."""
        low, high = (
            (-self.high, -self.low) if self.metric in LOWER_IS_BETTER else (self.low, self.high)
        )
        if low > 0:
            return "better"
        if high < 0:
            return "worse"
        return "within noise"

    def text(self) -> str:
        kind = "paired" if self.paired else "unpaired"
        return (
            f"{self.metric} {self.new:.4f} vs {self.baseline:.4f}: {self.difference:+.4f} "
            f"({self.confidence * 100:.4g}% interval {self.low:+.4f} to {self.high:+.4f}; {kind} "
            f"bootstrap, {self.resamples} resamples of {self.rows} {self.split} rows): "
            f"{self.verdict}"
        )


def scorer(metric: str, doc: Outputs) -> Callable[[np.ndarray], float]:
    """`metric` of the rows at the given positions, defined as `core.metrics` defines it."""
    y, pred = np.asarray(doc["y"]), np.asarray(doc["pred"])
    proba = None
    if doc.get("proba") is not None:  # stored with 6 decimals: rows sum to 1 only nearly
        proba = np.asarray(doc["proba"], dtype=float)
        proba = proba / np.clip(proba.sum(axis=1, keepdims=True), 1e-12, None)
    if doc["task"] == "regression":
        y, pred = y.astype(float), pred.astype(float)
        error = pred - y
        if metric == "mae":
            return lambda i: float(np.abs(error[i]).mean())
        if metric == "rmse":
            return lambda i: float(np.sqrt((error[i] ** 2).mean()))
        if metric == "r2":
            return lambda i: float(
                1 - (error[i] ** 2).sum() / max(((y[i] - y[i].mean()) ** 2).sum(), 1e-300)
            )
        raise KeyError(metric)
    classes = np.asarray(doc["classes"], dtype=object)
    if metric == "accuracy":
        hit = y == pred
        return lambda i: float(hit[i].mean())
    if metric == "log_loss":
        assert proba is not None
        column = {str(c): k for k, c in enumerate(classes)}
        p = proba[np.arange(len(y)), [column[v] for v in y]]
        loss = -np.log(np.clip(p, np.finfo(float).eps, 1.0))
        return lambda i: float(loss[i].mean())
    if metric in ("precision", "recall", "f1"):
        return _confusion_metric(metric, y, pred, classes)
    return lambda i: metrics.score(
        y[i], pred[i], None if proba is None else proba[i], classes, only=metric
    )[metric]


def _confusion_metric(
    metric: str, y: np.ndarray, pred: np.ndarray, classes: np.ndarray
) -> Callable[[np.ndarray], float]:
    """Binary (positive class: the second) or macro precision/recall/F1 from counts, with
    sklearn's zero_division=0 and its macro over the labels present in truth or prediction."""
    k = len(classes)
    code = {str(c): n for n, c in enumerate(classes)}
    yt = np.array([code[v] for v in y])
    yp = np.array([code.get(v, 0) for v in pred])

    def value(i: np.ndarray) -> float:
        counts = np.bincount(yt[i] * k + yp[i], minlength=k * k).reshape(k, k)
        tp = np.diag(counts).astype(float)
        fp, fn = counts.sum(axis=0) - tp, counts.sum(axis=1) - tp
        if metric == "precision":
            num, den = tp, tp + fp
        elif metric == "recall":
            num, den = tp, tp + fn
        else:
            num, den = 2 * tp, 2 * tp + fp + fn
        per_class = np.divide(num, den, out=np.zeros(k), where=den > 0)
        if k == 2:
            return float(per_class[1])
        present = (counts.sum(axis=0) + counts.sum(axis=1)) > 0
        return float(per_class[present].mean())

    return value


def interval(
    new: Outputs,
    baseline: Outputs,
    metric: str,
    confidence: float = 0.95,
    resamples: int = 1000,
    seed: int = 0,
    split: str = "test",
) -> Interval:
    """The bootstrap interval of `metric`(new) − `metric`(baseline)."""
    if new["task"] != baseline["task"]:
        raise ValueError(f"the baseline is a {baseline['task']} model, this one {new['task']}")
    score_new, score_base = scorer(metric, new), scorer(metric, baseline)
    n, m = len(new["y"]), len(baseline["y"])
    paired = new.get("rows") == baseline.get("rows") and n == m
    rng = np.random.default_rng(seed)
    diffs = np.empty(resamples)
    for r in range(resamples):
        i = rng.integers(0, n, n)
        j = i if paired else rng.integers(0, m, m)
        diffs[r] = score_new(i) - score_base(j)
    tail = (1 - confidence) / 2
    low, high = np.quantile(diffs, [tail, 1 - tail])
    return Interval(
        metric=metric,
        new=round(score_new(np.arange(n)), 6),
        baseline=round(score_base(np.arange(m)), 6),
        low=round(float(low), 6),
        high=round(float(high), 6),
        confidence=confidence,
        resamples=resamples,
        rows=n,
        paired=paired,
        split=split,
    )
