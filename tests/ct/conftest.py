"""Fixtures for the continuous-training tests: a recording stand-in for GitLab's REST API.

GitLab's server can't run here, so `gitlab_standin` replaces it at the network boundary
(standin.py): a real HTTP server on 127.0.0.1 (free port) that records every request.
Everything on our side of the socket (urllib, Alertmanager's webhook sender, git, DVC) is real.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from standin import StandIn, serve


@pytest.fixture
def gitlab_standin() -> Iterator[StandIn]:
    """A recording stand-in for GitLab's API on a free 127.0.0.1 port; stopped after the test."""
    with serve() as state:
        yield state
