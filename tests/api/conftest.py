"""Fixtures for the API tests: apps on trained bundles, and a bundle with every feature kind."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.support.api import ClientFn, Settings, TestClient, create_app


@pytest.fixture
def client_for(monkeypatch: pytest.MonkeyPatch) -> Iterator[ClientFn]:
    """Factory: client_for(model_dir, **settings) → a started TestClient (single process)."""
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    clients: list[TestClient] = []

    def make(model_dir: Path, **settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(model_dir=model_dir, **settings)))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(client_for: ClientFn, model_dir: Path) -> TestClient:
    return client_for(model_dir)


def mixed_frame(rows: int = 240) -> pd.DataFrame:
    """Numbers with gaps, a category with gaps, a boolean; label depends on all three."""
    rng = np.random.default_rng(7)
    size = rng.normal(10, 3, rows)
    size[rng.random(rows) < 0.1] = np.nan
    color = rng.choice(["red", "green", "blue"], rows).astype(object)
    color[rng.random(rows) < 0.1] = None
    flag = rng.random(rows) < 0.5
    score = np.nan_to_num(size, nan=10) + np.where(color == "red", 3, 0) + 2 * flag
    label = np.where(score + rng.normal(0, 1, rows) > 12, "yes", "no")
    return pd.DataFrame({"size": size, "color": color, "flag": flag, "label": label})


@pytest.fixture(scope="session")
def mixed_dir(train_bundle: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle trained on numeric (nullable), categorical (nullable) and boolean features."""
    csv = tmp_path_factory.mktemp("mixed") / "mixed.csv"
    mixed_frame().to_csv(csv, index=False)
    return train_bundle(data={"source": str(csv), "target": "label"})


@pytest.fixture(scope="session")
def regression_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(data={"source": "diabetes", "target": "progression"})


@pytest.fixture(scope="session")
def multiclass_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(data={"source": "wine", "target": "cultivar"})


@pytest.fixture(scope="session")
def boosted_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(train={"model": "gradient_boosting", "n_estimators": 5})


@pytest.fixture(scope="session")
def forest_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(train={"model": "random_forest", "n_estimators": 20, "epochs": 2})


@pytest.fixture
def tampered_dir(model_dir: Path, tmp_path: Path) -> Path:
    """A copy of the default bundle whose model file has one byte changed."""
    target = tmp_path / "model"
    shutil.copytree(model_dir, target)
    card = json.loads((target / "model_card.json").read_text())
    path = target / card["model_file"]
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    return target
