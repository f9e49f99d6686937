"""Behavioural tests of trained models (Made-With-ML style): they beat a trivial baseline,
don't depend on row order, respond to features in the expected direction, and are
reproducible byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.support.pipeline import TrainFn, run_stages
from tests.support.repo import default_params
from mlops_template.core import bundle, schema


def _load(model_dir: Path) -> tuple[dict[str, object], object, pd.DataFrame]:
    card = json.loads((model_dir / "model_card.json").read_text())
    model = bundle.load(model_dir / "model.skops", expected_sha256=str(card["sha256"]))
    test = pd.read_parquet(model_dir.parent / "data" / "processed" / "test.parquet")
    return card, model, test


def test_default_model_beats_the_majority_baseline(model_dir: Path) -> None:
    card, _, test = _load(model_dir)
    majority = test["diagnosis"].value_counts(normalize=True).max()
    accuracy = card["metrics"]["accuracy"]  # type: ignore[index]
    assert accuracy >= majority + 0.2, (accuracy, majority)


@pytest.mark.parametrize("family", ["random_forest", "mlp"])
def test_other_families_beat_the_baseline(train_bundle: TrainFn, family: str) -> None:
    card, _, test = _load(train_bundle(train={"model": family, "epochs": 5, "n_estimators": 25}))
    majority = test["diagnosis"].value_counts(normalize=True).max()
    assert card["metrics"]["accuracy"] >= majority + 0.2  # type: ignore[index]


def test_regression_beats_the_mean_baseline(train_bundle: TrainFn) -> None:
    model_dir = train_bundle(data={"source": "diabetes", "target": "progression"})
    card, _, test = _load(model_dir)
    y = test["progression"].to_numpy()
    mean_rmse = float(np.sqrt(np.mean((y - y.mean()) ** 2)))
    assert card["metrics"]["rmse"] < 0.9 * mean_rmse  # type: ignore[index]
    assert card["metrics"]["r2"] > 0.3  # type: ignore[index]


def test_multiclass_bundled_set(train_bundle: TrainFn) -> None:
    card, _, _ = _load(train_bundle(data={"source": "wine", "target": "cultivar"}))
    assert len(card["classes"]) == 3  # type: ignore[arg-type]
    assert card["metrics"]["accuracy"] > 0.9  # type: ignore[index]


def test_predictions_are_invariant_to_row_order(model_dir: Path) -> None:
    card, model, test = _load(model_dir)
    features = schema.from_json(card["features"])  # type: ignore[arg-type]
    x = schema.coerce(test, features)
    order = np.random.default_rng(0).permutation(len(x))
    direct = model.predict_proba(x)  # type: ignore[attr-defined]
    shuffled = model.predict_proba(x.iloc[order])  # type: ignore[attr-defined]
    np.testing.assert_allclose(shuffled, direct[order], rtol=0, atol=1e-12)


def test_larger_tumours_look_more_malignant(model_dir: Path) -> None:
    """Directional: growing every 'worst' size feature raises P(malignant)."""
    card, model, test = _load(model_dir)
    features = schema.from_json(card["features"])  # type: ignore[arg-type]
    x = schema.coerce(test, features)
    bigger = x.copy()
    for name in ("worst_radius", "worst_perimeter", "worst_area"):
        bigger[name] = bigger[name] * 1.5
    malignant = list(card["classes"]).index("malignant")  # type: ignore[call-overload]
    before = model.predict_proba(x)[:, malignant]  # type: ignore[attr-defined]
    after = model.predict_proba(bigger)[:, malignant]  # type: ignore[attr-defined]
    assert (after >= before - 1e-9).mean() > 0.95


def test_same_params_and_data_give_a_byte_identical_model(model_dir: Path, tmp_path: Path) -> None:
    again = run_stages(tmp_path / "again", default_params())
    assert (again / "model.skops").read_bytes() == (model_dir / "model.skops").read_bytes()
    assert (again / "model_card.json").read_bytes() == (model_dir / "model_card.json").read_bytes()
