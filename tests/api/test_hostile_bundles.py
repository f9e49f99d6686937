"""Hostile model bundles (tests/support/hostile.py) are refused with a reason naming the type or
field; the app stays up (/health 200, /ready and /predict 503), no payload runs, and memory
stays bounded. `test_hostile_server.py` runs each through the real server process."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from tests.support import hostile
from tests.support.api import ClientFn, example

NAMES = sorted(hostile.BUNDLES) + sorted(hostile.FOREST_BUNDLES) + sorted(hostile.BOOSTED_BUNDLES)


def source(name: str, request: pytest.FixtureRequest) -> Path:
    fixture = "model_dir"
    if name in hostile.FOREST_BUNDLES:
        fixture = "forest_dir"
    elif name in hostile.BOOSTED_BUNDLES:
        fixture = "boosted_dir"
    path: Path = request.getfixturevalue(fixture)
    return path


@pytest.mark.parametrize("name", ["reduce-builtins-exec", "reduce-numpy-load-pickle"])
def test_the_payloads_are_live(name: str, model_dir: Path, tmp_path: Path) -> None:
    """Under a prefix rule (trust every builtins/numpy name) the payload runs: the bundles
    below are real attacks, not malformed files."""
    marker = tmp_path / "marker"
    hostile.make(name, model_dir, tmp_path / "model", marker)
    hostile.live(tmp_path / "model" / "model.skops")
    assert marker.read_text() == "ran"


@pytest.mark.parametrize("name", NAMES)
def test_a_hostile_bundle_is_refused_and_the_app_stays_up(
    name: str, client_for: ClientFn, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    src = source(name, request)
    marker = tmp_path / "marker"
    reason = hostile.make(name, src, tmp_path / "model", marker)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    client = client_for(tmp_path / "model")
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert reason in ready.json()["reason"], ready.json()
    predict = client.post("/predict", json=example(src))
    assert predict.status_code == 503
    assert reason in predict.json()["detail"]
    assert not marker.exists(), "the payload ran"
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_kb) / 1024
    assert grown_mb < 200, f"loading took {grown_mb:.0f} MB more at its peak"
