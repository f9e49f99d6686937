"""Fixtures shared by every test folder: trained model bundles made by the real stages, and
(from tests.support.fixtures) the real API, Prometheus and Alertmanager."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.pipeline import TrainFn, run_stages
from tests.support.repo import default_params

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(scope="session")
def train_bundle(tmp_path_factory: pytest.TempPathFactory) -> TrainFn:
    """Factory: train_bundle(data=..., train=...) → model dir; params merged over the defaults."""
    cache: dict[str, Path] = {}

    def make(**sections: dict[str, Any]) -> Path:
        key = repr(sorted(sections.items()))
        if key not in cache:
            params = default_params()
            for name, values in sections.items():
                params[name] = {**params.get(name, {}), **values}
            cache[key] = run_stages(tmp_path_factory.mktemp("bundle"), params)
        return cache[key]

    return make


@pytest.fixture(scope="session")
def model_dir(train_bundle: TrainFn) -> Path:
    """The bundle (model.skops + model_card.json) of the default pipeline on the bundled data."""
    return train_bundle()
