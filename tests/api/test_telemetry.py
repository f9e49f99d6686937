"""The adapter over prometheus_client's internals writes exactly what `observe()` writes."""

from __future__ import annotations

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from api.telemetry import promclient
from api.telemetry.names import INFERENCE_DURATION
from api.telemetry.tally import Tally

BUCKETS = (0.001, 0.01, 0.1, 1.0)
VALUES = [0.0005, 0.001, 0.002, 0.01, 0.5, 1.0, 3.0, 0.05, 0.05]


def histogram() -> tuple[CollectorRegistry, object]:
    registry = CollectorRegistry()
    return registry, promclient.histogram(INFERENCE_DURATION, registry, BUCKETS)


def samples(registry: CollectorRegistry) -> dict[tuple[str, str], float]:
    """Every sample but the creation time (which differs between two registries)."""
    text = generate_latest(registry).decode()
    return {
        (s.name, s.labels.get("le", "")): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if not s.name.endswith("_created")
    }


def same(a: CollectorRegistry, b: CollectorRegistry) -> None:
    left, right = samples(a), samples(b)
    assert left.keys() == right.keys()
    for key, value in left.items():
        assert value == pytest.approx(right[key], rel=1e-12), key


def test_add_observations_equals_observe() -> None:
    observed, by_observe = histogram()
    for v in VALUES:
        by_observe.observe(v)  # type: ignore[attr-defined]
    added, by_adapter = histogram()
    bounds = promclient.upper_bounds(by_adapter)
    assert bounds[-1] == float("inf") and list(bounds[:-1]) == list(BUCKETS)
    counts = promclient.bucket_counts(bounds, VALUES)
    promclient.add_observations(by_adapter, counts.tolist(), float(np.sum(VALUES)))
    same(added, observed)


def test_tally_flush_equals_observe_one_by_one() -> None:
    observed, by_observe = histogram()
    for v in VALUES:
        by_observe.observe(v)  # type: ignore[attr-defined]
    tallied, by_tally = histogram()
    tally = Tally()
    with tally.lock:
        tally.observe(by_tally, VALUES[:1])  # the single-value path
        tally.observe(by_tally, VALUES[1:])  # the batch path
    assert samples(tallied) != samples(observed)  # nothing written before the flush
    tally.flush()
    same(tallied, observed)
