"""Why a model decides (permutation importance, per-class metrics, reliability) and the bootstrap
interval of the change against a baseline model, with the gate's switch to use it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_template.core import metrics, schema
from mlops_template.core.config import GateParams
from mlops_template.review import bootstrap, gate
from mlops_template.stages import explain


def outputs(
    y: np.ndarray, proba: np.ndarray | None, classes: list[str], rows: str = "same"
) -> dict[str, Any]:
    pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] if proba is not None else None
    return explain.predictions(rows, y, pred, proba, "classification", np.asarray(classes))


def noisy_classifier(seed: int, n: int = 200, k: int = 2, skill: float = 2.0) -> tuple:
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(k)]
    truth = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), truth] += skill
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return np.asarray(classes, dtype=object)[truth].astype(str), proba, classes


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("metric", ["accuracy", "precision", "recall", "f1", "log_loss", "roc_auc"])
def test_bootstrap_scores_are_the_evaluate_stages_metrics(k: int, metric: str) -> None:
    y, proba, classes = noisy_classifier(1, k=k)
    doc = outputs(y, proba, classes)
    rows = np.random.default_rng(0).integers(0, len(y), len(y))  # one resample, duplicates in
    stored = np.asarray(doc["proba"])  # 6 decimals: normalised as the bootstrap does
    y_r, proba_r = np.asarray(doc["y"])[rows], (stored / stored.sum(axis=1, keepdims=True))[rows]
    expected = metrics.score(y_r, np.asarray(doc["pred"])[rows], proba_r, np.asarray(classes))
    assert bootstrap.scorer(metric, doc)(rows) == pytest.approx(expected[metric], abs=2e-6)


@pytest.mark.parametrize("metric", ["mae", "rmse", "r2"])
def test_bootstrap_scores_regression_metrics_like_sklearn(metric: str) -> None:
    rng = np.random.default_rng(2)
    y = rng.normal(50, 10, 150)
    pred = y + rng.normal(0, 5, 150)
    doc = explain.predictions("rows", y, pred, None, "regression", np.array([]))
    rows = rng.integers(0, 150, 150)
    expected = metrics.regression(y[rows], pred[rows])[metric]
    assert bootstrap.scorer(metric, doc)(rows) == pytest.approx(expected, abs=1e-5)


def test_a_model_against_itself_changes_nothing_and_a_worse_one_is_worse() -> None:
    y, proba, classes = noisy_classifier(3, n=300)
    same = bootstrap.interval(outputs(y, proba, classes), outputs(y, proba, classes), "accuracy")
    assert same.paired and (same.low, same.high) == (0.0, 0.0)
    assert same.verdict == "within noise"
    flipped = proba.copy()
    flipped[:90] = flipped[:90, ::-1]  # 30 % of the rows now predicted the other way
    worse = bootstrap.interval(outputs(y, flipped, classes), outputs(y, proba, classes), "f1")
    assert worse.paired and worse.high < 0 and worse.verdict == "worse"
    better = bootstrap.interval(
        outputs(y, proba, classes), outputs(y, flipped, classes), "log_loss"
    )
    assert better.low < 0 and better.verdict == "better"  # lower log loss is better
    assert "paired bootstrap, 1000 resamples of 300 test rows" in better.text()


def test_a_small_drop_on_114_rows_is_within_noise_and_other_rows_are_unpaired() -> None:
    """The default data's test split: one row flipped is 0.9 points of accuracy."""
    y, proba, classes = noisy_classifier(4, n=114, skill=1.5)
    worse = proba.copy()
    right = np.asarray(classes, dtype=object)[proba.argmax(axis=1)] == y
    wrong = np.flatnonzero(right)[:6]  # six more mistakes: 5.3 points of accuracy
    worse[wrong] = worse[wrong, ::-1]
    ci = bootstrap.interval(outputs(y, worse, classes), outputs(y, proba, classes), "accuracy")
    assert ci.difference == pytest.approx(-6 / 114, abs=1e-6)
    assert ci.verdict == "worse"  # paired: only the six rows differ, and resamples see them
    other = bootstrap.interval(
        outputs(y, worse, classes, rows="other"), outputs(y, proba, classes), "accuracy"
    )
    assert not other.paired and other.verdict == "within noise"
    assert other.high - other.low > ci.high - ci.low


def test_the_gate_uses_the_interval_only_when_asked() -> None:
    y, proba, classes = noisy_classifier(5, n=114, skill=1.0)
    ci = bootstrap.interval(
        outputs(y, proba, classes, rows="a"), outputs(y, proba, classes, rows="b"), "f1"
    )
    assert ci.verdict == "within noise"
    dropped = ({"f1": 0.90}, {"f1": 0.95})
    plain = GateParams(metric="f1", min=0.5, max_drop=0.02)
    assert not gate.check(dropped[0], plain, dropped[1], ci).passed  # use_ci off: as before
    noisy = GateParams(metric="f1", min=0.5, max_drop=0.02, use_ci=True)
    verdict = gate.check(dropped[0], noisy, dropped[1], ci)
    assert verdict.passed and "within noise" in verdict.message
    missing = gate.check(dropped[0], noisy, dropped[1], None)
    assert not missing.passed and "no interval" in missing.message
    worse = bootstrap.Interval("f1", 0.9, 0.95, -0.08, -0.02, 0.95, 1000, 114, True)
    assert not gate.check(dropped[0], noisy, dropped[1], worse).passed


def test_permutation_importance_finds_the_feature_the_label_depends_on() -> None:
    rng = np.random.default_rng(6)
    frame = pd.DataFrame({"signal": rng.normal(size=300), "noise": rng.normal(size=300)})
    y = np.where(frame["signal"] > 0, "yes", "no")
    features = schema.infer(frame)
    model = Pipeline([("scale", StandardScaler()), ("forest", RandomForestClassifier(20))])
    model.fit(schema.coerce(frame, features), y)
    doc = explain.importance(
        model, frame, y, features, "classification", np.array(["no", "yes"]), "accuracy", 3
    )
    assert [row["feature"] for row in doc["features"]] == ["signal", "noise"]
    assert doc["features"][0]["mean"] > 0.3 and abs(doc["features"][1]["mean"]) < 0.05
    assert doc["rows"] == 300 and doc["repeats"] == 3


@pytest.mark.parametrize(
    "task, metric",
    [("classification", "log_loss"), ("classification", "f1"), ("regression", "r2")],
)
def test_shuffling_encoded_columns_gives_sklearns_permutation_importance(
    task: str, metric: str
) -> None:
    """The template's pipeline (numbers clipped, a category with rare values in "other"): the
    encoded-column shuffle gives the numbers sklearn's permutation_importance gives on the
    raw columns, through the whole pipeline."""
    from sklearn.inspection import permutation_importance

    from mlops_template.core.config import PreprocessParams, TrainParams
    from mlops_template.stages import features as encoding
    from mlops_template.stages import models

    rng = np.random.default_rng(8)
    n = 400
    frame = pd.DataFrame(
        {
            "size": rng.normal(size=n),
            "shop": rng.choice(
                ["a", "b", "c", "d", "rare1", "rare2"], n, p=[0.3, 0.3, 0.2, 0.18, 0.01, 0.01]
            ),
            "flag": rng.random(n) < 0.5,
            "gap": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        }
    )
    signal = frame["size"] + (frame["shop"] == "a") + 0.5 * frame["flag"]
    y = np.where(signal > 0.5, "yes", "no") if task == "classification" else signal.to_numpy()
    features = schema.infer(frame)
    pre = encoding.build_preprocessor(features, PreprocessParams(clip=1.5, min_frequency=10))
    x = pre.fit_transform(schema.coerce(frame, features))
    p = TrainParams(epochs=3)
    estimator = models.build(task, p)
    labels = np.unique(y) if task == "classification" else None
    for epoch in range(1, 4):
        models.fit_epoch(estimator, x, y, epoch, p, labels)
    pipeline = Pipeline([("preprocess", pre), ("model", estimator)])
    assert explain.blocks(pipeline, features) is not None  # the fast path is taken
    classes = np.array(["no", "yes"]) if task == "classification" else np.array([])
    doc = explain.importance(pipeline, frame, y, features, task, classes, metric, 4, seed=3)
    sign = -1.0 if metric == "log_loss" else 1.0

    def scorer(model: Any, data: pd.DataFrame, truth: np.ndarray) -> float:
        from mlops_template.core.predict import predict_frame

        pred, proba = predict_frame(model, data, features, task)
        return sign * metrics.score(truth, pred, proba, classes)[metric]

    reference = permutation_importance(
        pipeline, frame, y, scoring=scorer, n_repeats=4, random_state=3
    )
    got = {row["feature"]: (row["mean"], row["std"]) for row in doc["features"]}
    for name, mean, std in zip(
        frame.columns, reference.importances_mean, reference.importances_std
    ):
        assert got[name] == pytest.approx((round(mean, 6), round(std, 6)), abs=2e-6), name
    assert doc["features"][0]["feature"] in ("size", "shop")


def test_per_class_metrics_and_reliability_rows() -> None:
    y, proba, classes = noisy_classifier(7, n=400, k=3)
    pred = np.asarray(classes, dtype=object)[proba.argmax(axis=1)]
    per_class = explain.per_class(y, pred, np.asarray(classes))
    assert list(per_class) == classes
    expected = skm.f1_score(y, pred, labels=classes, average=None)
    assert [per_class[c]["f1"] for c in classes] == pytest.approx(expected, abs=1e-6)
    assert sum(per_class[c]["support"] for c in classes) == 400
    rows = explain.calibration(y, proba, np.asarray(classes))
    assert sum(r["count"] for r in rows) == 400 * 3  # every class's probability, one-vs-rest
    for r in rows:
        assert r["bin"] / 10 <= r["predicted"] <= (r["bin"] + 1) / 10
        assert 0 <= r["observed"] <= 1 and r["ideal"] == r["predicted"]


def test_class_codes_keep_every_metric_and_refuse_an_unknown_label() -> None:
    y, proba, classes = noisy_classifier(5, n=300, k=3)
    names = np.asarray(classes, dtype=object)
    pred = names[proba.argmax(axis=1)]
    truth, guess = metrics.codes(np.asarray(y), names), metrics.codes(pred.astype(str), names)
    assert truth is not None and guess is not None
    assert list(names[truth]) == list(y) and list(names[guess]) == list(pred)
    ids = np.arange(len(classes))
    assert metrics.score(truth, guess, proba, ids) == metrics.score(
        np.asarray(y), pred, proba, names
    )
    assert metrics.codes(np.array(["not-a-class"]), names) is None
    assert metrics.codes(np.array(["a"]), np.array([0, 1], dtype=object)) is None
