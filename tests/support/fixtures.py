"""pytest fixtures that start real servers (registered for every folder by tests/conftest.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from tests.support.monitoring import Prometheus, run_alertmanager, run_prometheus
from tests.support.processes import Server, run_api
from tests.support.shell import require_tool

StartApi = Callable[..., Server]
StartPrometheus = Callable[..., Prometheus]
StartAlertmanager = Callable[..., Server]


@pytest.fixture
def start_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartApi]:
    """start_api(model_dir, workers=2, env=None) → Server; stopped after the test."""
    with contextlib.ExitStack() as stack:

        def start(
            model_dir: Path, workers: int = 2, env: Mapping[str, str] | None = None
        ) -> Server:
            workdir = tmp_path_factory.mktemp("api")
            return stack.enter_context(run_api(model_dir, workdir, workers, env))

        yield start


@pytest.fixture
def start_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartPrometheus]:
    """start_prometheus(api_targets, alertmanager=None, interval="1s", drift_window="1m",
    alert_for=None) → Prometheus with the committed config and rules; stopped after the test."""
    require_tool("prometheus")
    with contextlib.ExitStack() as stack:

        def start(api_targets: list[str], **options: Any) -> Prometheus:
            workdir = tmp_path_factory.mktemp("prometheus")
            return stack.enter_context(run_prometheus(workdir, api_targets, **options))

        yield start


@pytest.fixture
def start_alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartAlertmanager]:
    """start_alertmanager(env, route_overrides=None) → Server running the rendered committed
    config (env: GITLAB_URL, PROJECT_ID, REF, TRIGGER_TOKEN); stopped after the test."""
    require_tool("prometheus-alertmanager")
    with contextlib.ExitStack() as stack:

        def start(
            env: Mapping[str, str], route_overrides: Mapping[str, str] | None = None
        ) -> Server:
            workdir = tmp_path_factory.mktemp("alertmanager")
            return stack.enter_context(run_alertmanager(workdir, env, route_overrides))

        yield start
