"""The fast path equals the sklearn pipeline on each bundle's test split (parity), and
anything it can't reproduce falls back to sklearn with a log line."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.support.api import ClientFn, scrape, value

from mlops_template.core.bundle import load as load_bundle
from mlops_template.core.drift import CategoricalBins

from api.inference import FastPath, SklearnBackend, choose
from api.records import Records
from api.state import load, read_card


def split_rows(model_dir: Path) -> tuple[Records, Any]:
    """Rows of the bundle's test split (card feature order, None for missing) + the state."""
    state = load(model_dir, read_card(model_dir), use_onnx=True)
    assert state.model is not None, state.error
    frame = pd.read_parquet(model_dir.parent / "data" / "processed" / "test.parquet")
    names = [f.name for f in state.model.card.features]
    rows = [
        [None if pd.isna(v) else (v if isinstance(v, str) else float(v)) for v in row]
        for row in frame[names].itertuples(index=False)
    ]
    return Records(rows), state


@pytest.mark.parametrize(
    ("bundle", "backend"),
    [
        ("model_dir", "numpy"),
        ("regression_dir", "numpy"),
        ("multiclass_dir", "numpy"),
        ("mixed_dir", "numpy"),
        ("forest_dir", "onnx"),
    ],
)
def test_parity_on_test_split(bundle: str, backend: str, request: pytest.FixtureRequest) -> None:
    rows, state = split_rows(request.getfixturevalue(bundle))
    model = state.model
    assert model.backend.name == backend
    card = model.card
    slow = SklearnBackend(
        load_bundle(request.getfixturevalue(bundle) / "model.skops", card.sha256),
        card.features,
        card.task,
    )
    fast_out, slow_out = model.backend.run(rows), slow.run(rows)
    if card.task == "classification":
        assert np.array_equal(fast_out.proba.argmax(axis=1), slow_out.proba.argmax(axis=1))
        np.testing.assert_allclose(fast_out.proba, slow_out.proba, rtol=0, atol=1e-5)
    else:
        np.testing.assert_allclose(fast_out.values, slow_out.values, rtol=1e-6, atol=1e-6)


def test_onnx_export_of_a_linear_model_matches_too(model_dir: Path) -> None:
    """The ONNX route (used for non-linear models) on the default bundle, forced."""
    rows, state = split_rows(model_dir)
    fast = FastPath(
        load_bundle(model_dir / "model.skops", state.model.card.sha256),
        state.model.card.features,
        "classification",
    )
    fast.linear = None
    fast.session, fast.dtype, fast.output = fast._export()
    np.testing.assert_allclose(
        fast.run(rows).proba, state.model.backend.run(rows).proba, rtol=0, atol=1e-5
    )


def test_unsupported_pipeline_falls_back_with_a_log_line(
    model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    card = read_card(model_dir)
    fitted = load_bundle(model_dir / "model.skops", card.sha256)
    odd = Pipeline([("extra", FunctionTransformer()), *fitted.steps])
    with caplog.at_level(logging.WARNING, logger="api.inference"):
        backend = choose(odd, card.features, card.task, card.drift_reference, use_onnx=True)
    assert backend.name == "sklearn"
    assert "fast path unavailable" in caplog.text


def test_mixed_features(client_for: ClientFn, mixed_dir: Path) -> None:
    """Nullable numbers and categories, booleans, unknown categories: accepted and counted."""
    card = read_card(mixed_dir)
    kinds = {f.name: (f.kind, f.nullable) for f in card.features}
    assert kinds == {
        "size": ("numeric", True),
        "color": ("categorical", True),
        "flag": ("boolean", False),
    }
    client = client_for(mixed_dir)
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert schema["properties"]["flag"]["type"] == "boolean"
    assert {"type": "null"} in schema["properties"]["color"]["anyOf"]
    records = [
        {"size": 9.5, "color": "red", "flag": True},
        {"size": None, "color": "purple", "flag": False},
        {"color": None, "flag": False},  # nullable fields may be left out
    ]
    response = client.post("/predict", json={"records": records})
    assert response.status_code == 200, response.text
    assert all(p["prediction"] in ("no", "yes") for p in response.json()["predictions"])
    samples = scrape(client)
    assert value(samples, "model_unknown_categories_total", feature="color") == 1
    assert value(samples, "model_missing_values_total", feature="size") == 2
    assert value(samples, "model_missing_values_total", feature="color") == 1
    color = card.drift_reference.features["color"]
    assert isinstance(color, CategoricalBins)
    categories = color.categories
    other = str(categories.index("__other__"))
    red = str(categories.index("red"))
    assert value(samples, "model_feature_bin_total", feature="color", bin=other) == 1
    assert value(samples, "model_feature_bin_total", feature="color", bin=red) == 1
    flag_false = client.post("/predict", json={"records": [{"color": "red", "flag": "no"}]})
    assert flag_false.status_code == 422  # strings are not booleans here
    assert flag_false.json()["detail"][0]["msg"].startswith("records[0].flag: ")


def test_regression_bundle(client_for: ClientFn, regression_dir: Path) -> None:
    client = client_for(regression_dir)
    card = read_card(regression_dir)
    row = {f.name: 0.01 for f in card.features}
    body = client.post("/predict", json={"records": [row, row]}).json()
    assert all(isinstance(p["prediction"], float) for p in body["predictions"])
    assert all("probabilities" not in p or p["probabilities"] is None for p in body["predictions"])
    samples = scrape(client)
    assert value(samples, "model_predictions_total", **{"class": "value"}) == 2
    assert value(samples, "model_prediction_value_count") == 2
    bins = len(card.drift_reference.prediction.proportions)
    assert sum(value(samples, "model_prediction_bin_total", bin=str(b)) for b in range(bins)) == 2


def test_multiclass_bundle(client_for: ClientFn, multiclass_dir: Path) -> None:
    client = client_for(multiclass_dir)
    card = read_card(multiclass_dir)
    assert len(card.classes) == 3
    row = {f.name: (f.minimum + f.maximum) / 2 for f in card.features}
    [prediction] = client.post("/predict", json={"records": [row]}).json()["predictions"]
    assert set(prediction["probabilities"]) == set(card.classes)
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)


def test_bins_match_drift_counts_one_by_one_and_batched(
    client_for: ClientFn, mixed_dir: Path
) -> None:
    """Live counters agree with `drift.counts` (the offline reference), via both code paths."""
    from mlops_template.core import drift

    card = read_card(mixed_dir)
    frame = pd.read_parquet(mixed_dir.parent / "data" / "processed" / "test.parquet")
    names = [f.name for f in card.features]
    records = [
        {k: (None if pd.isna(v) else (bool(v) if k == "flag" else v)) for k, v in zip(names, row)}
        for row in frame[names].itertuples(index=False)
    ]
    records[0]["color"] = "never-seen"
    single, batched = client_for(mixed_dir), client_for(mixed_dir)
    for record in records:
        assert single.post("/predict", json={"records": [record]}).status_code == 200
    assert batched.post("/predict", json={"records": records}).status_code == 200
    expected_frame = pd.DataFrame(records)
    for client in (single, batched):
        samples = scrape(client)
        for name in names:
            ref = card.drift_reference.features[name]
            expected = drift.counts(expected_frame[name], ref)
            got = [
                value(samples, "model_feature_bin_total", feature=name, bin=str(b))
                for b in range(len(expected))
            ]
            assert got == expected.tolist(), name
            missing = int(expected_frame[name].isna().sum())
            assert value(samples, "model_missing_values_total", feature=name) == missing
        assert value(samples, "model_unknown_categories_total", feature="color") == 1
