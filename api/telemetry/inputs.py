"""What the received records look like, against the training reference: drift bins, missing
values and unknown categories, per feature. Label children are resolved once in `__init__`;
each request only finds bins and adds to the tally."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client import Counter, Gauge

from mlops_template.core.drift import OTHER, CategoricalBins, FeatureBins, NumericBins
from mlops_template.core.schema import Feature

from api.records import Records
from api.telemetry.tally import Tally


@dataclass(frozen=True)
class FeatureChildren:
    """Counter children of one feature, and how a value finds its bin."""

    position: int
    name: str
    numeric: bool
    edges: list[float]
    lookup: dict[str, int]
    bins: list[Any]
    missing: Any
    unknown: Any


@dataclass(frozen=True)
class InputMetrics:
    feature_bin: Counter
    feature_reference: Gauge
    missing: Counter
    unknown: Counter


class InputCounter:
    """Counts the features of received records into their training-reference bins."""

    def __init__(
        self,
        tally: Tally,
        metrics: InputMetrics,
        features: list[Feature],
        reference: dict[str, FeatureBins],
    ) -> None:
        self.tally = tally
        self.features: list[FeatureChildren] = []
        for position, feature in enumerate(features):
            ref = reference.get(feature.name)
            if ref is None:
                continue
            for b, share in enumerate(ref.proportions):
                metrics.feature_reference.labels(feature.name, str(b)).set(share)
            categories = ref.categories if isinstance(ref, CategoricalBins) else []
            known = [c for c in categories if c != OTHER]
            bins = range(len(ref.proportions))
            self.features.append(
                FeatureChildren(
                    position=position,
                    name=feature.name,
                    numeric=isinstance(ref, NumericBins),
                    edges=list(ref.edges) if isinstance(ref, NumericBins) else [],
                    lookup={c: i for i, c in enumerate(known)},
                    bins=[metrics.feature_bin.labels(feature.name, str(b)) for b in bins],
                    missing=metrics.missing.labels(feature.name),
                    unknown=metrics.unknown.labels(feature.name),
                )
            )
        self.numeric = [f for f in self.features if f.numeric]
        self.categorical = [f for f in self.features if not f.numeric]
        self.positions = [f.position for f in self.numeric]
        self.edges = [np.asarray(f.edges, dtype=float) for f in self.numeric]
        # One bincount over all numeric features: flat bin id = offset of the feature + bin.
        sizes = [len(f.bins) for f in self.numeric]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self.numeric_bins = [child for f in self.numeric for child in f.bins]

    def count(self, records: Records) -> None:
        """Drift bins, missing values and unknown categories of the received records."""
        rows = records.rows
        tally = self.tally
        if len(rows) == 1:
            with tally.lock:
                self._one(rows[0])
            return
        # The matrix the model used (None -> NaN); none to build for categorical-only models.
        x = records.floats(self.positions) if self.numeric else None
        with tally.lock:
            if x is not None:
                self._numeric(x)
            if not self.categorical:
                return
            columns = list(zip(*rows))
            for f in self.categorical:
                column = columns[f.position]
                other = len(f.lookup)
                idx = np.fromiter(
                    (-1 if v is None else f.lookup.get(v, other) for v in column), int, len(column)
                )
                for child, n in ((f.missing, idx == -1), (f.unknown, idx == other)):
                    count = int(np.count_nonzero(n))
                    if count:
                        tally.add(child, count)
                tally.count(f.bins, idx[idx >= 0])

    def _numeric(self, x: np.ndarray) -> None:
        """All numeric features: bin = number of edges below the value (bisect_left)."""
        columns = np.ascontiguousarray(x.T)
        missing = np.isnan(columns)
        idx = np.array([e.searchsorted(c, side="left") for e, c in zip(self.edges, columns)])
        idx += self.offsets[:, None]
        counts = np.bincount(idx[~missing], minlength=len(self.numeric_bins)).tolist()
        for child, n in zip(self.numeric_bins, counts):
            if n:
                self.tally.add(child, n)
        for f, n in zip(self.numeric, missing.sum(axis=1).tolist()):
            if n:
                self.tally.add(f.missing, n)

    def _one(self, row: Sequence[Any]) -> None:
        pending = self.tally.pending
        for f in self.features:
            value = row[f.position]
            if value is None:
                child = f.missing
            elif f.numeric:
                child = f.bins[bisect_left(f.edges, value)]
            else:
                b = f.lookup.get(value)
                if b is None:
                    self.tally.add(f.unknown, 1)
                    b = len(f.lookup)
                child = f.bins[b]
            pending[child] = pending.get(child, 0.0) + 1
