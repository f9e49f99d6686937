"""The one place that touches prometheus_client: building metrics from `names`, adding many
observations at once, and the exposition (merged over workers in multiprocess mode).

prometheus_client has no "observe n values" for a histogram. `add_observations` writes what
`Histogram.observe` would have written, through the histogram's internals (`_upper_bounds`,
`_buckets`, `_sum`); if a prometheus_client release renames them, only this module changes,
and `tests/api/test_telemetry.py` compares it with `observe()`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
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

from api.telemetry.names import Metric

DEFAULT_BUCKETS: tuple[float, ...] = tuple(Histogram.DEFAULT_BUCKETS)


def counter(m: Metric, registry: CollectorRegistry) -> Counter:
    return Counter(m.name, m.help, m.labels, registry=registry)


def gauge(m: Metric, registry: CollectorRegistry, mode: Any) -> Gauge:
    return Gauge(m.name, m.help, m.labels, registry=registry, multiprocess_mode=mode)


def histogram(m: Metric, registry: CollectorRegistry, buckets: Sequence[float]) -> Histogram:
    return Histogram(m.name, m.help, m.labels, registry=registry, buckets=tuple(buckets))


def upper_bounds(child: Any) -> list[float]:
    """A histogram child's bucket bounds, +Inf last (value v goes in the first v <= bound)."""
    bounds: list[float] = child._upper_bounds
    return bounds


def add_observations(child: Any, counts: Sequence[float], total: float) -> None:
    """What `observe()` of values with these per-bucket `counts` and sum `total` would write."""
    for bucket, n in zip(child._buckets, counts):
        if n:
            bucket.inc(n)
    child._sum.inc(total)


def bucket_counts(bounds: Sequence[float], values: Sequence[float]) -> np.ndarray:
    """Per-bucket counts of `values` under `bounds` (the rule `observe()` applies)."""
    idx = np.searchsorted(bounds, np.asarray(values, dtype=float), side="left")
    return np.bincount(idx, minlength=len(bounds)).astype(float)


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text format of `registry`, or of every worker's files in multiprocess mode."""
    path = multiprocess_dir()
    if path is None:
        return generate_latest(registry), CONTENT_TYPE_LATEST
    merged = CollectorRegistry()
    MultiProcessCollector(merged, path=path)  # type: ignore[no-untyped-call]
    return generate_latest(merged), CONTENT_TYPE_LATEST
