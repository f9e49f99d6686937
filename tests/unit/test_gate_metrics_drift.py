"""Quality gate verdicts, metric sets and the drift reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.review import gate
from mlops_template.core import drift, metrics, schema
from mlops_template.core.config import GateParams


@pytest.mark.parametrize(
    ("value", "baseline", "passed", "fragment"),
    [
        (0.95, None, True, "no baseline"),
        (0.85, None, False, "worse than gate.min"),
        (0.95, 0.96, True, "change -0.0100"),
        (0.92, 0.96, False, "dropped 0.0400"),
    ],
)
def test_gate_on_a_higher_is_better_metric(
    value: float, baseline: float | None, passed: bool, fragment: str
) -> None:
    verdict = gate.check(
        {"f1": value},
        GateParams(metric="f1", min=0.9, max_drop=0.02),
        None if baseline is None else {"f1": baseline},
    )
    assert verdict.passed is passed
    assert fragment in verdict.message


def test_gate_on_a_lower_is_better_metric() -> None:
    params = GateParams(metric="rmse", min=10.0, max_drop=1.0)
    assert gate.check({"rmse": 8.0}, params, {"rmse": 7.5}).passed
    assert not gate.check({"rmse": 12.0}, params, None).passed
    assert not gate.check({"rmse": 9.0}, params, {"rmse": 7.5}).passed


def test_gate_names_an_unknown_metric() -> None:
    from mlops_template.core.errors import StageError

    with pytest.raises(StageError, match="metric 'auc' not in"):
        gate.check({"f1": 1.0}, GateParams(metric="auc"), None)


def test_classification_metrics_are_consistent_with_sklearn() -> None:
    y = np.array(["a", "b", "b", "a", "b"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.7, 0.3], [0.1, 0.9]])
    classes = np.array(["a", "b"])
    pred = classes[proba.argmax(axis=1)]
    scores = metrics.classification(y, pred, proba, classes)
    assert scores["accuracy"] == pytest.approx(0.8)
    assert scores["recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["precision"] == pytest.approx(1.0)
    assert scores["roc_auc"] == pytest.approx(1.0)


def test_regression_metrics_by_hand() -> None:
    scores = metrics.regression(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0]))
    assert scores["mae"] == pytest.approx(2 / 3, abs=1e-6)
    assert scores["rmse"] == pytest.approx(np.sqrt(4 / 3), abs=1e-6)
    assert scores["r2"] == pytest.approx(1 - 4 / 2, abs=1e-6)


def test_drift_reference_bins_match_the_training_distribution() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=1000), "c": rng.choice(["u", "v"], 1000)})
    features = schema.infer(frame)
    coerced = schema.coerce(frame, features)
    ref = drift.reference(
        lambda feature: coerced[feature.name],
        features,
        np.array(["p"] * 1000),
        "classification",
        ["p"],
        10,
    )
    numeric = ref.features["x"]
    assert isinstance(numeric, drift.NumericBins)
    assert len(numeric.edges) == 9 and len(numeric.proportions) == 10
    assert all(abs(p - 0.1) < 0.011 for p in numeric.proportions)
    categorical = ref.features["c"]
    assert isinstance(categorical, drift.CategoricalBins)
    assert categorical.categories == ["u", "v", drift.OTHER]
    assert categorical.proportions[2] == 0.0
    assert ref.prediction.proportions == [1.0]
    # the same data binned again shows no drift
    again = drift.counts(frame["x"], numeric)
    assert drift.psi(numeric.proportions, again / again.sum()) < 1e-3


def test_bin_index_edges_are_right_closed() -> None:
    idx = drift.bin_index(np.array([-5.0, 0.0, 0.5, 1.0, 9.0, np.nan]), [0.0, 1.0])
    assert idx.tolist() == [0, 0, 1, 1, 2, -1]


def test_one_metric_alone_is_the_same_number() -> None:
    """The permutation importance and the bootstrap ask for one metric: the same value."""
    rng = np.random.default_rng(3)
    classes = np.array(["a", "b", "c"], dtype=object)
    y = rng.choice(classes, 300)
    proba = rng.dirichlet([1, 1, 1], 300)
    pred = classes[proba.argmax(axis=1)]
    every = metrics.score(y, pred, proba, classes)
    for name, value in every.items():
        assert metrics.score(y, pred, proba, classes, only=name) == {name: value}
    actual, guess = rng.normal(size=50), rng.normal(size=50)
    every = metrics.score(actual, guess, None, classes)
    for name, value in every.items():
        assert metrics.score(actual, guess, None, classes, only=name) == {name: value}
    assert metrics.score(actual, guess, None, classes, only="f1") == every  # not a regression one
