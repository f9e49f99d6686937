"""Metrics of the feedback loop: labels by outcome, absolute errors, label delay (by the model
version that served the prediction), refusals, and what capture wrote or dropped.

Counts go through the shared `Tally` like the request metrics; children are made on first
use (a version label per model version that signed an id: a handful, never client input).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry

from mlops_template.core.card import ModelCard
from mlops_template.core.drift import NumericBins

from api.telemetry import names
from api.telemetry import promclient as prom
from api.telemetry.tally import Tally

HOUR, DAY = 3600.0, 86400.0
DELAY_BUCKETS = (1.0, 10.0, 60.0, 300.0, 900.0, HOUR, 3 * HOUR, 6 * HOUR, DAY, 3 * DAY, 7 * DAY)
ERROR_SHARES = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def error_buckets(card: ModelCard | None) -> tuple[float, ...]:
    """Absolute-error buckets as shares of the training predictions' range (MAE itself comes
    from _sum / _count, exact whatever the buckets)."""
    span = 1.0
    if card is not None and isinstance(card.drift_reference.prediction, NumericBins):
        edges = card.drift_reference.prediction.edges
        if len(edges) >= 2 and edges[-1] > edges[0]:
            span = float(edges[-1] - edges[0])
    return tuple(float(f"{span * s:.6g}") for s in ERROR_SHARES)


class Quality:
    def __init__(self, registry: CollectorRegistry, tally: Tally, card: ModelCard | None) -> None:
        r = registry
        self.tally = tally
        self.labels = prom.counter(names.FEEDBACK_LABELS, r)
        self.error = prom.histogram(names.FEEDBACK_ERROR, r, error_buckets(card))
        self.delay = prom.histogram(names.FEEDBACK_DELAY, r, DELAY_BUCKETS)
        self.refused_total = prom.counter(names.FEEDBACK_REFUSED, r)
        self.capture_rows = prom.counter(names.CAPTURE_ROWS, r)
        self.capture_buffered = prom.gauge(names.CAPTURE_BUFFERED, r, "livesum")
        self.capture_files = prom.counter(names.CAPTURE_FILES, r)
        self.capture_errors = prom.counter(names.CAPTURE_ERRORS, r)
        self._children: dict[tuple[str, ...], Any] = {}

    def bind(self, card: ModelCard) -> None:
        """Series of the served version at 0 from the start: Prometheus' increase() can't
        count the first value of a series that appears mid-window."""
        outcomes = ("correct", "wrong") if card.task == "classification" else ("scored",)
        for outcome in outcomes:
            self._child(self.labels, card.version, outcome)
        self._child(self.delay, card.version)
        if card.task == "regression":
            self._child(self.error, card.version)
        for stream in ("predictions", "labels"):
            for outcome in ("written", "dropped"):
                self._child(self.capture_rows, stream, outcome)

    def _child(self, metric: Any, *values: str) -> Any:
        key = (metric._name, *values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def labelled(
        self, version: str, outcome: str, delay: float, error: float | None = None
    ) -> None:
        """One accepted label: its outcome (or absolute error) and delay."""
        tally = self.tally
        with tally.lock:
            tally.add(self._child(self.labels, version, outcome), 1)
            tally.observe(self._child(self.delay, version), (max(delay, 0.0),))
            if error is not None:
                tally.observe(self._child(self.error, version), (error,))

    def refused(self, reason: str, n: int = 1) -> None:
        with self.tally.lock:
            self.tally.add(self._child(self.refused_total, reason), n)

    # capture: called from the writer thread and the request path
    def captured(self, stream: str, outcome: str, n: int) -> None:
        if n:
            with self.tally.lock:
                self.tally.add(self._child(self.capture_rows, stream, outcome), n)

    def file_written(self, stream: str) -> None:
        self._child(self.capture_files, stream).inc()

    def write_failed(self) -> None:
        self.capture_errors.inc()

    def buffered(self, rows: int) -> None:
        self.capture_buffered.set(rows)
