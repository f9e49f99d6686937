"""Fixtures for the continuous-training tests.

`gitlab_standin`: GitLab's server can't run here, so it is replaced at the network boundary
(tests/support/gitlab_standin.py) by a real HTTP server on 127.0.0.1 (free port) that records
every request. Everything on our side of the socket (urllib, Alertmanager's webhook sender,
git, DVC) is real. The real API, Prometheus and Alertmanager come from tests/support/fixtures.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gitlab_standin import StandIn, serve


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
