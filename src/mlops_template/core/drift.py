"""Drift: the training reference, binning, and the statistics that compare against it.

The same `bin_index` runs in evaluation (to build the reference), in the API (to count
live traffic into Prometheus counters) and in the offline drift report, so the bins
can't disagree. Bins for a numeric feature with inner edges e_1 < … < e_k are
(-inf, e_1], (e_1, e_2], …, (e_k, inf): k + 1 bins, indices 0…k.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field
from scipy import stats

from mlops_template.core.schema import Feature

OTHER = "__other__"
EPS = 1e-4  # floor for proportions in PSI, so an empty bin doesn't give infinity
# PSI < 0.1 stable, 0.1-0.2 moderate, above 0.2 a significant shift. The FeatureDrift and
# PredictionDrift alerts (monitoring/prometheus/rules/alerts.yml) fire at the same `> 0.2`.
PSI_THRESHOLD = 0.2


class NumericBins(BaseModel):
    """Bins (-inf, e_1], …, (e_k, inf) of a number and the training share of each."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["numeric"] = "numeric"
    edges: list[float]
    proportions: list[float]


class CategoricalBins(BaseModel):
    """One bin per training category (the last one, OTHER, for unseen values)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: Literal["categorical"] = "categorical"
    categories: list[str]
    proportions: list[float]


class NumericFeatureBins(NumericBins):
    missing: float  # share of missing values in the training split


class CategoricalFeatureBins(CategoricalBins):
    missing: float


Bins = NumericBins | CategoricalBins
FeatureBins = Annotated[NumericFeatureBins | CategoricalFeatureBins, Field(discriminator="kind")]
PredictionBins = Annotated[NumericBins | CategoricalBins, Field(discriminator="kind")]


class DriftReference(BaseModel):
    """The training split's distribution: per feature, and of the model's predictions."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    features: dict[str, FeatureBins]
    prediction: PredictionBins


def quantile_edges(values: np.ndarray, bins: int) -> list[float]:
    """Inner bin edges at the training quantiles (deduplicated)."""
    present = values[~np.isnan(values)]
    if len(present) == 0:
        return []
    qs = np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1])
    return [float(v) for v in np.unique(np.round(qs, 12))]


def bin_index(values: np.ndarray, edges: list[float]) -> np.ndarray:
    """Bin of each value (NaN → -1)."""
    idx = np.searchsorted(np.asarray(edges, dtype=float), values, side="left")
    return np.where(np.isnan(values), -1, idx)


def category_index(values: pd.Series, categories: list[str]) -> np.ndarray:
    """Index of each value in `categories`; unknown → len(categories) (OTHER); missing → -1."""
    series = pd.Series(values)
    missing = series.isna().to_numpy()
    if not categories:
        return np.where(missing, -1, 0).astype(int)
    text = series.astype(str)  # missing values become "nan" here, then -1 below
    codes = pd.Categorical(text, categories=list(dict.fromkeys(categories))).codes
    lookup = {c: i for i, c in enumerate(categories)}
    first = np.array([lookup[c] for c in dict.fromkeys(categories)], dtype=int)
    index = np.where(codes >= 0, first[np.maximum(codes, 0)], len(categories))
    return np.where(missing, -1, index).astype(int)


def proportions(indices: np.ndarray, n_bins: int) -> list[float]:
    present = indices[indices >= 0]
    if len(present) == 0:
        return [0.0] * n_bins
    counts = np.bincount(present, minlength=n_bins)
    return [round(float(c), 6) for c in counts / counts.sum()]


def feature_reference(column: pd.Series, feature: Feature, bins: int) -> FeatureBins:
    missing = round(float(column.isna().mean()), 6)
    if feature.kind == "categorical":
        categories = list(feature.categories)
        idx = category_index(column, categories)
        return CategoricalFeatureBins(
            categories=categories + [OTHER],
            proportions=proportions(idx, len(categories) + 1),
            missing=missing,
        )
    values = column.to_numpy(dtype=float)
    edges = quantile_edges(values, bins)
    return NumericFeatureBins(
        edges=edges,
        proportions=proportions(bin_index(values, edges), len(edges) + 1),
        missing=missing,
    )


def reference(
    column: Callable[[Feature], pd.Series],
    features: list[Feature],
    predictions: np.ndarray,
    task: str,
    classes: list[str],
    bins: int,
) -> DriftReference:
    """Drift reference of the training split: per-feature bins of each feature's `column`
    (coerced to the schema; asked for one at a time, so the split needn't be held whole) and
    the distribution of the model's `predictions` on it."""
    prediction: Bins
    if task == "classification":
        idx = category_index(pd.Series(predictions), classes)
        prediction = CategoricalBins(categories=classes, proportions=proportions(idx, len(classes)))
    else:
        values = predictions.astype(float)
        edges = quantile_edges(values, bins)
        prediction = NumericBins(
            edges=edges, proportions=proportions(bin_index(values, edges), len(edges) + 1)
        )
    return DriftReference(
        features={f.name: feature_reference(column(f), f, bins) for f in features},
        prediction=prediction,
    )


def psi(expected: list[float] | np.ndarray, actual: list[float] | np.ndarray) -> float:
    """Population stability index: sum((a - e) * ln(a / e)) over bins (floored at EPS)."""
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    a = np.clip(np.asarray(actual, dtype=float), EPS, None)
    return float(np.sum((a - e) * np.log(a / e)))


def drifted(psi_value: float, threshold: float = PSI_THRESHOLD) -> bool:
    """A PSI above the threshold is drift (the same comparison as the alert rules)."""
    return psi_value > threshold


def chi_square_pvalue(expected: list[float] | np.ndarray, counts: np.ndarray) -> float:
    """p-value of a chi-square goodness-of-fit test of bin counts vs. reference proportions."""
    n = counts.sum()
    if n == 0:
        return 1.0
    e = np.clip(np.asarray(expected, dtype=float), EPS, None)
    e = e / e.sum() * n
    return float(stats.chisquare(counts, e).pvalue)


def counts(column: pd.Series, ref: Bins) -> np.ndarray:
    """Counts of `column` in the reference's bins (missing values not counted)."""
    if isinstance(ref, CategoricalBins):
        known = [c for c in ref.categories if c != OTHER]
        idx = category_index(column, known)
        n_bins = len(ref.categories)
    else:
        idx = bin_index(pd.to_numeric(column, errors="coerce").to_numpy(dtype=float), ref.edges)
        n_bins = len(ref.edges) + 1
    present = idx[idx >= 0]
    return np.bincount(present, minlength=n_bins).astype(float)
