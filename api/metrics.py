"""The Prometheus metrics of `mlops_template.metric_names`, and how requests feed them.

Works in one process (a private `CollectorRegistry`, e.g. under TestClient) and under
gunicorn in multiprocess mode (`PROMETHEUS_MULTIPROC_DIR` set before the workers start):
then every worker writes its own files and `/metrics` merges them with a fresh registry
and a `MultiProcessCollector`, so counters and histograms sum over workers. Label children
are resolved once at start-up. Counts of a request go to an in-memory tally that `flush()`
writes out every FLUSH_SECONDS, before each scrape and at shutdown, with one `inc(n)`
per non-empty bin, never once per value; the in-flight gauge is set to the live count then.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector

from mlops_template import metric_names as names
from mlops_template.core.drift import OTHER

from api.records import Records
from api.state import Card

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INFERENCE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)
# Per-request counts are gathered in memory and written out this often (and before each
# scrape and at shutdown): a few dict updates per request instead of ~40 locked mmap writes.
FLUSH_SECONDS = 0.5
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _counter(m: names.Metric, registry: CollectorRegistry) -> Counter:
    return Counter(m.name, m.help, m.labels, registry=registry)


def _gauge(m: names.Metric, registry: CollectorRegistry, mode: Any) -> Gauge:
    return Gauge(m.name, m.help, m.labels, registry=registry, multiprocess_mode=mode)


def _histogram(m: names.Metric, registry: CollectorRegistry, buckets: Sequence[float]) -> Histogram:
    return Histogram(m.name, m.help, m.labels, registry=registry, buckets=tuple(buckets))


@dataclass(frozen=True)
class _FeatureBins:
    """Counter children of one feature, and how a value finds its bin."""

    position: int
    name: str
    numeric: bool
    edges: list[float]
    lookup: dict[str, int]
    bins: list[Any]
    missing: Any
    unknown: Any


class Metrics:
    """All metrics of one app. `bind(card)` adds the model's labels once the model is loaded."""

    def __init__(self, card: Card | None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = _counter(names.HTTP_REQUESTS, r)
        self.duration = _histogram(names.HTTP_DURATION, r, HTTP_BUCKETS)
        self.in_flight = _gauge(names.HTTP_IN_FLIGHT, r, "livesum")
        self.predictions = _counter(names.PREDICTIONS, r)
        value_edges = _prediction_edges(card)
        self.value = _histogram(names.PREDICTION_VALUE, r, value_edges or Histogram.DEFAULT_BUCKETS)
        self.confidence = _histogram(names.CONFIDENCE, r, CONFIDENCE_BUCKETS)
        self.inference = _histogram(names.INFERENCE_DURATION, r, INFERENCE_BUCKETS)
        self.validation_errors = _counter(names.VALIDATION_ERRORS, r)
        self.unknown = _counter(names.UNKNOWN_CATEGORIES, r)
        self.missing = _counter(names.MISSING_VALUES, r)
        self.info = _gauge(names.MODEL_INFO, r, "max")
        self.load_seconds = _gauge(names.MODEL_LOAD_SECONDS, r, "mostrecent")
        self.loaded_at = _gauge(names.MODEL_LOADED_AT, r, "max")
        self.feature_bin = _counter(names.FEATURE_BIN, r)
        self.feature_reference = _gauge(names.FEATURE_REFERENCE, r, "mostrecent")
        self.prediction_bin = _counter(names.PREDICTION_BIN, r)
        self.prediction_reference = _gauge(names.PREDICTION_REFERENCE, r, "mostrecent")
        self._http: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._features: list[_FeatureBins] = []
        self._numeric: list[_FeatureBins] = []
        self._categorical: list[_FeatureBins] = []
        self._positions: list[int] = []
        self._edges: list[np.ndarray] = []
        self._offsets = np.zeros(0, dtype=int)
        self._numeric_bins: list[Any] = []
        self._classes: list[Any] = []
        self._prediction_bins: list[Any] = []
        self._prediction_edges: list[float] = []
        self.active = 0  # requests in flight in this process (changed on the event loop only)
        self._lock = threading.Lock()
        self._pending: dict[Any, float] = {}
        self._pending_hist: dict[Any, list[Any]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._value: Any = None

    # -- start-up ---------------------------------------------------------------------------

    def bind(self, card: Card, version: str, load_seconds: float, loaded_at: float) -> None:
        """Model info, reference proportions and the label children of the loaded model."""
        self.info.labels(card.name, version, card.task).set(1)
        self.load_seconds.set(load_seconds)
        self.loaded_at.set(loaded_at)
        features = card.reference.get("features", {})
        for position, feature in enumerate(card.features):
            ref = features.get(feature.name)
            if ref is None:
                continue
            n_bins = len(ref["proportions"])
            for b, share in enumerate(ref["proportions"]):
                self.feature_reference.labels(feature.name, str(b)).set(share)
            known = [c for c in ref.get("categories", []) if c != OTHER]
            self._features.append(
                _FeatureBins(
                    position=position,
                    name=feature.name,
                    numeric=ref["kind"] == "numeric",
                    edges=[float(e) for e in ref.get("edges", [])],
                    lookup={c: i for i, c in enumerate(known)},
                    bins=[self.feature_bin.labels(feature.name, str(b)) for b in range(n_bins)],
                    missing=self.missing.labels(feature.name),
                    unknown=self.unknown.labels(feature.name),
                )
            )
        self._numeric = [f for f in self._features if f.numeric]
        self._categorical = [f for f in self._features if not f.numeric]
        self._positions = [f.position for f in self._numeric]
        self._edges = [np.asarray(f.edges, dtype=float) for f in self._numeric]
        # One bincount over all numeric features: flat bin id = offset of the feature + bin.
        sizes = [len(f.bins) for f in self._numeric]
        self._offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int)
        self._numeric_bins = [child for f in self._numeric for child in f.bins]
        prediction = card.reference.get("prediction", {})
        for b, share in enumerate(prediction.get("proportions", [])):
            self.prediction_reference.labels(str(b)).set(share)
        n_bins = len(prediction.get("proportions", []))
        self._prediction_bins = [self.prediction_bin.labels(str(b)) for b in range(n_bins)]
        self._prediction_edges = [float(e) for e in prediction.get("edges", [])]
        self._classes = [self.predictions.labels(c) for c in card.classes]
        self._value = self.predictions.labels("value") if card.task == "regression" else None

    # -- per request: counted in this process, written out by flush() ---------------------

    def _add(self, child: Any, amount: float) -> None:
        pending = self._pending
        pending[child] = pending.get(child, 0.0) + amount

    def _observe(self, histogram: Any, values: Sequence[float]) -> None:
        bounds = histogram._upper_bounds  # same bucket rule as Histogram.observe (v <= bound)
        entry = self._pending_hist.get(histogram)
        if entry is None:
            entry = self._pending_hist[histogram] = [np.zeros(len(bounds)), 0.0]
        if len(values) == 1:
            entry[0][bisect_left(bounds, values[0])] += 1
            entry[1] += values[0]
        else:
            idx = np.searchsorted(bounds, np.asarray(values, dtype=float), side="left")
            entry[0] += np.bincount(idx, minlength=len(bounds))
            entry[1] += float(np.sum(values))

    def http(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._http.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route, method),
            )
            self._http[key] = children
        with self._lock:
            self._add(children[0], 1)
            self._observe(children[1], (seconds,))

    def rejected(self, reason: str) -> None:
        self.validation_errors.labels(reason).inc()

    def inputs(self, records: Records) -> None:
        """Drift bins, missing values and unknown categories of the received records."""
        rows = records.rows
        if len(rows) == 1:
            with self._lock:
                self._inputs_one(rows[0])
            return
        # The matrix the model used (None -> NaN); none to build for categorical-only models.
        x = records.floats(self._positions) if self._numeric else None
        with self._lock:
            if x is not None:
                self._inputs_numeric(x)
            if not self._categorical:
                return
            columns = list(zip(*rows))
            for f in self._categorical:
                column = columns[f.position]
                other = len(f.lookup)
                idx = np.fromiter(
                    (-1 if v is None else f.lookup.get(v, other) for v in column), int, len(column)
                )
                for child, n in ((f.missing, idx == -1), (f.unknown, idx == other)):
                    count = int(np.count_nonzero(n))
                    if count:
                        self._add(child, count)
                self._count(f.bins, idx[idx >= 0])

    def _inputs_numeric(self, x: np.ndarray) -> None:
        """All numeric features: bin = number of edges below the value (bisect_left)."""
        columns = np.ascontiguousarray(x.T)
        missing = np.isnan(columns)
        idx = np.array([e.searchsorted(c, side="left") for e, c in zip(self._edges, columns)])
        idx += self._offsets[:, None]
        counts = np.bincount(idx[~missing], minlength=len(self._numeric_bins)).tolist()
        for child, n in zip(self._numeric_bins, counts):
            if n:
                self._add(child, n)
        for f, n in zip(self._numeric, missing.sum(axis=1).tolist()):
            if n:
                self._add(f.missing, n)

    def _inputs_one(self, row: Sequence[Any]) -> None:
        pending = self._pending
        for f in self._features:
            value = row[f.position]
            if value is None:
                child = f.missing
            elif f.numeric:
                child = f.bins[bisect_left(f.edges, value)]
            else:
                b = f.lookup.get(value)
                if b is None:
                    self._add(f.unknown, 1)
                    b = len(f.lookup)
                child = f.bins[b]
            pending[child] = pending.get(child, 0.0) + 1

    def _count(self, children: list[Any], idx: np.ndarray) -> None:
        for b, n in enumerate(np.bincount(idx, minlength=len(children)).tolist()):
            if n:
                self._add(children[b], n)

    def classified(
        self, best: np.ndarray, confidence: np.ndarray, seconds: float, calls: int = 1
    ) -> None:
        """Predicted class indices (into card.classes) and their probabilities.

        `calls` requests shared one model run of `seconds`: each is observed with it.
        """
        with self._lock:
            self._observe(self.inference, (seconds,) * calls)
            self._count(self._classes, best)
            if self._prediction_bins:
                self._count(self._prediction_bins, best)
            self._observe(self.confidence, confidence.tolist())

    def regressed(self, values: np.ndarray, seconds: float, calls: int = 1) -> None:
        with self._lock:
            self._observe(self.inference, (seconds,) * calls)
            self._add(self._value, len(values))
            if self._prediction_bins:
                idx = np.searchsorted(self._prediction_edges, values, side="left")
                self._count(self._prediction_bins, idx)
            self._observe(self.value, values.tolist())

    def flush(self) -> None:
        """Write the counts gathered since the last flush to prometheus_client."""
        with self._lock:
            pending, hists = self._pending, self._pending_hist
            self._pending, self._pending_hist = {}, {}
        self.in_flight.set(self.active)
        for child, amount in pending.items():
            child.inc(amount)
        for histogram, (counts, total) in hists.items():
            # Histogram has no "observe n values"; its per-bucket values and sum are what
            # observe() increments, one bucket per value.
            for bucket, n in zip(histogram._buckets, counts.tolist()):
                if n:
                    bucket.inc(n)
            histogram._sum.inc(total)

    def start(self, interval: float = FLUSH_SECONDS) -> None:
        """Flush every `interval` seconds in a background thread until stop()."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.flush()

        self._thread = threading.Thread(target=loop, name="metrics-flush", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()

    # -- scrape -----------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The text format: merged over all workers in multiprocess mode."""
        self.flush()
        path = multiprocess_dir()
        if path is None:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=path)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST


def _prediction_edges(card: Card | None) -> list[float]:
    if card is None or card.task != "regression":
        return []
    edges = card.reference.get("prediction", {}).get("edges", [])
    return [float(e) for e in edges]
