"""Gradient boosting on the fast path: the ONNX tree ensemble built by `api.boosting` equals the
sklearn pipeline on each bundle's test split, with categories and missing values, for binary,
multi-class and regression models; an export it can't make falls back to sklearn."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from tests.api.conftest import mixed_frame
from tests.support.api import ClientFn
from tests.api.test_inference import split_rows

from mlops_template.core.bundle import load as load_bundle

from api import boosting
from api.encoders import Unsupported
from api.inference import SklearnBackend

BOOST = {"model": "gradient_boosting", "epochs": 4, "max_iter": 60}


@pytest.fixture(scope="session")
def boosting_mixed_dir(
    train_bundle: Callable[..., Path], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    csv = tmp_path_factory.mktemp("boost-mixed") / "mixed.csv"
    mixed_frame().to_csv(csv, index=False)
    return train_bundle(data={"source": str(csv), "target": "label"}, train=BOOST)


@pytest.fixture(scope="session")
def boosting_wine_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(data={"source": "wine", "target": "cultivar"}, train=BOOST)


@pytest.fixture(scope="session")
def boosting_regression_dir(train_bundle: Callable[..., Path]) -> Path:
    return train_bundle(data={"source": "diabetes", "target": "progression"}, train=BOOST)


@pytest.mark.parametrize(
    "bundle", ["boosting_mixed_dir", "boosting_wine_dir", "boosting_regression_dir"]
)
def test_gradient_boosting_is_served_by_onnx_with_parity(
    bundle: str, request: pytest.FixtureRequest
) -> None:
    model_dir = request.getfixturevalue(bundle)
    rows, state = split_rows(model_dir)
    model = state.model
    assert model.card.model == "gradient_boosting"
    assert model.backend.name == "onnx"
    assert model.backend.dtype == np.float64  # thresholds compared in double, like sklearn
    pipeline = load_bundle(model_dir / "model.skops", model.card.sha256)
    slow = SklearnBackend(pipeline, model.card.features, model.card.task)
    fast_out, slow_out = model.backend.run(rows), slow.run(rows)
    if model.card.task == "classification":
        assert np.array_equal(fast_out.proba.argmax(axis=1), slow_out.proba.argmax(axis=1))
        np.testing.assert_allclose(fast_out.proba, slow_out.proba, rtol=0, atol=1e-6)
    else:
        np.testing.assert_allclose(fast_out.values, slow_out.values, rtol=1e-6, atol=1e-6)


def test_missing_values_reaching_the_trees_take_sklearns_branch() -> None:
    """The served pipeline imputes first, but the exported trees alone also route NaN the way
    sklearn's predictor does (each node's `missing_go_to_left`)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    x[rng.random(x.shape) < 0.2] = np.nan
    y = (np.nan_to_num(x[:, 0], nan=1.0) + x[:, 1] > 0).astype(int)
    model = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(x, y)
    import onnxruntime as ort

    session = ort.InferenceSession(
        boosting.onnx_model(model, 4, "classification").SerializeToString(),
        providers=["CPUExecutionProvider"],
    )
    got = session.run(["probabilities"], {"x": x})[0]
    np.testing.assert_allclose(got, model.predict_proba(x), rtol=0, atol=1e-6)


def test_a_loss_it_cannot_export_is_refused_by_name() -> None:
    from sklearn.ensemble import HistGradientBoostingRegressor

    x = np.arange(40, dtype=float).reshape(-1, 1)
    model = HistGradientBoostingRegressor(loss="poisson", max_iter=3).fit(x, x[:, 0] + 1)
    with pytest.raises(Unsupported, match="HalfPoissonLoss"):
        boosting.onnx_model(model, 1, "regression")


def test_model_shows_why_the_model_decides(client_for: ClientFn, model_dir: Path) -> None:
    """/model carries the card's permutation importance (card schema version 2 and later)."""
    card = client_for(model_dir).get("/model").json()
    assert card["schema_version"] >= 2
    importance = card["importance"]
    assert importance["metric"] == "f1" and importance["rows"] == 114
    names = [row["feature"] for row in importance["features"]]
    assert len(names) == 30 and set(names) <= {f["name"] for f in card["features"]}
    means = [row["mean"] for row in importance["features"]]
    assert means == sorted(means, reverse=True) and means[0] > 0
