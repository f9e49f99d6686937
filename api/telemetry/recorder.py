"""The Prometheus metrics of `api.telemetry.names`, and how requests feed them.

Works in one process (a private `CollectorRegistry`, e.g. under TestClient) and under
gunicorn in multiprocess mode (`PROMETHEUS_MULTIPROC_DIR` set before the workers start):
then every worker writes its own files and `/metrics` merges them, so counters and
histograms sum over workers. Label children are resolved once at start-up; counts of a
request go to the in-memory `Tally`, written out in bulk (see `api.telemetry.tally`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry

from mlops_template.core.card import ModelCard
from mlops_template.core.drift import NumericBins

from api.records import Records
from api.telemetry import names
from api.telemetry import promclient as prom
from api.telemetry.inputs import InputCounter, InputMetrics
from api.telemetry.quality import Quality
from api.telemetry.tally import FLUSH_SECONDS, Tally

HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
INFERENCE_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0)
CONFIDENCE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)


class Telemetry:
    """All metrics of one app. `bind(card)` adds the model's labels once the model is loaded."""

    def __init__(self, card: ModelCard | None) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = prom.counter(names.HTTP_REQUESTS, r)
        self.duration = prom.histogram(names.HTTP_DURATION, r, HTTP_BUCKETS)
        self.in_flight = prom.gauge(names.HTTP_IN_FLIGHT, r, "livesum")
        self.predictions = prom.counter(names.PREDICTIONS, r)
        value_edges = _prediction_edges(card) or prom.DEFAULT_BUCKETS
        self.value = prom.histogram(names.PREDICTION_VALUE, r, value_edges)
        self.confidence = prom.histogram(names.CONFIDENCE, r, CONFIDENCE_BUCKETS)
        self.inference = prom.histogram(names.INFERENCE_DURATION, r, INFERENCE_BUCKETS)
        self.validation_errors = prom.counter(names.VALIDATION_ERRORS, r)
        self.inputs = InputMetrics(
            feature_bin=prom.counter(names.FEATURE_BIN, r),
            feature_reference=prom.gauge(names.FEATURE_REFERENCE, r, "mostrecent"),
            missing=prom.counter(names.MISSING_VALUES, r),
            unknown=prom.counter(names.UNKNOWN_CATEGORIES, r),
        )
        self.info = prom.gauge(names.MODEL_INFO, r, "max")
        self.load_seconds = prom.gauge(names.MODEL_LOAD_SECONDS, r, "mostrecent")
        self.loaded_at = prom.gauge(names.MODEL_LOADED_AT, r, "max")
        self.prediction_bin = prom.counter(names.PREDICTION_BIN, r)
        self.prediction_reference = prom.gauge(names.PREDICTION_REFERENCE, r, "mostrecent")
        self.rejections = prom.counter(names.REJECTED, r)
        self.expirations = prom.counter(names.EXPIRED, r)
        self.queue_requests = prom.gauge(names.QUEUE_REQUESTS, r, "livesum")
        self.queue_rows = prom.gauge(names.QUEUE_ROWS, r, "livesum")
        self.queue_depth: Callable[[], tuple[int, int]] = lambda: (0, 0)  # set by the app
        self.active = 0  # requests in flight in this process (changed on the event loop only)
        self.tally = Tally(before_flush=self._live)
        self.quality = Quality(r, self.tally, card)  # labels from /feedback, capture
        self._http: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._counter: InputCounter | None = None
        self._classes: list[Any] = []
        self._prediction_bins: list[Any] = []
        self._prediction_edges: list[float] = []
        self._value: Any = None

    def bind(self, card: ModelCard, load_seconds: float, loaded_at: float) -> None:
        """Model info, reference proportions and the label children of the loaded model."""
        self.info.labels(card.name, card.version, card.task).set(1)
        self.quality.bind(card)
        self.load_seconds.set(load_seconds)
        self.loaded_at.set(loaded_at)
        reference = card.drift_reference
        self._counter = InputCounter(self.tally, self.inputs, card.features, reference.features)
        proportions = reference.prediction.proportions
        for b, share in enumerate(proportions):
            self.prediction_reference.labels(str(b)).set(share)
        self._prediction_bins = [
            self.prediction_bin.labels(str(b)) for b in range(len(proportions))
        ]
        self._prediction_edges = _prediction_edges(card)
        self._classes = [self.predictions.labels(c) for c in card.classes]
        self._value = self.predictions.labels("value") if card.task == "regression" else None

    # -- per request: counted in this process, written out by the tally ---------------------

    def http(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        children = self._http.get(key)
        if children is None:
            children = (
                self.requests.labels(route, method, str(status)),
                self.duration.labels(route, method),
            )
            self._http[key] = children
        with self.tally.lock:
            self.tally.add(children[0], 1)
            self.tally.observe(children[1], (seconds,))

    def rejected(self, reason: str) -> None:
        self.validation_errors.labels(reason).inc()

    def overloaded(self, reason: str) -> None:
        """A request shed with 503 + Retry-After (queue_requests, queue_rows)."""
        with self.tally.lock:
            self.tally.add(self.rejections.labels(reason), 1)

    def expired(self, reason: str, n: int = 1) -> None:
        """Requests dropped before inference (deadline, disconnected); any thread."""
        with self.tally.lock:
            self.tally.add(self.expirations.labels(reason), n)

    def _live(self) -> None:
        """Gauges of the moment, set before each flush (in the flush thread)."""
        self.in_flight.set(self.active)
        requests, rows = self.queue_depth()
        self.queue_requests.set(requests)
        self.queue_rows.set(rows)

    def received(self, records: Records) -> None:
        """Drift bins, missing values and unknown categories of the received records."""
        if self._counter is not None:
            self._counter.count(records)

    def classified(
        self, best: np.ndarray, confidence: np.ndarray, seconds: float, calls: int = 1
    ) -> None:
        """Predicted class indices (into card.classes) and their probabilities.

        `calls` requests shared one model run of `seconds`: each is observed with it.
        """
        tally = self.tally
        with tally.lock:
            tally.observe(self.inference, (seconds,) * calls)
            tally.count(self._classes, best)
            if self._prediction_bins:
                tally.count(self._prediction_bins, best)
            tally.observe(self.confidence, confidence.tolist())

    def regressed(self, values: np.ndarray, seconds: float, calls: int = 1) -> None:
        tally = self.tally
        with tally.lock:
            tally.observe(self.inference, (seconds,) * calls)
            tally.add(self._value, len(values))
            if self._prediction_bins:
                idx = np.searchsorted(self._prediction_edges, values, side="left")
                tally.count(self._prediction_bins, idx)
            tally.observe(self.value, values.tolist())

    # -- background flush and scrape --------------------------------------------------------

    def flush(self) -> None:
        self.tally.flush()

    def start(self, interval: float = FLUSH_SECONDS) -> None:
        self.tally.start(interval)

    def stop(self) -> None:
        self.tally.stop()

    def exposition(self) -> tuple[bytes, str]:
        """The text format: merged over all workers in multiprocess mode."""
        self.flush()
        return prom.exposition(self.registry)


def _prediction_edges(card: ModelCard | None) -> list[float]:
    if card is None or not isinstance(card.drift_reference.prediction, NumericBins):
        return []
    return list(card.drift_reference.prediction.edges)
