"""Fixtures for the continuous-training tests.

`gitlab_standin`: GitLab's server can't run here, so it is replaced at the network boundary
(standin.py) by a real HTTP server on 127.0.0.1 (free port) that records every request.
Everything on our side of the socket (urllib, Alertmanager's webhook sender, git, DVC) is real.

The real API, Prometheus and Alertmanager come from the monitoring tests' fixtures
(tests/monitoring/monitoring_stack.py), imported here so both folders run the same parts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitoring"))

from monitoring_stack import (  # noqa: E402,F401  (fixtures are registered by importing them)
    start_alertmanager,
    start_api,
    start_prometheus,
)
from standin import StandIn, serve  # noqa: E402


@pytest.fixture(scope="session")
def ct_dvc_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One DVC cache for every throw-away project of these tests (its run-cache saves a
    second training of the same data)."""
    return tmp_path_factory.mktemp("ct-dvc-cache")


@pytest.fixture
def gitlab_standin() -> Iterator[StandIn]:
    """A recording stand-in for GitLab's API on a free 127.0.0.1 port; stopped after the test."""
    with serve() as state:
        yield state
