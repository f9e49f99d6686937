"""Unit tests of each stage's pure core on small synthetic frames."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.stages import load, preprocess, train
from mlops_template.core import schema
from mlops_template.core.errors import StageError
from mlops_template.core.config import DataParams, PreprocessParams, TrainParams


def frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "colour": rng.choice(["a", "b", "c"], n),
            "flag": rng.choice([True, False], n),
            "label": np.where(x > 0, "pos", "neg"),
        }
    )


def test_validate_accepts_a_good_frame() -> None:
    data = frame()
    assert load.validate(data, DataParams(source="mem", target="label")) is data


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda f: f.drop(columns=["label"]), "target column 'label' not found"),
        (lambda f: f.assign(x=np.nan), "column 'x' is empty"),
        (lambda f: f.head(10), "need at least 50"),
        (lambda f: f.assign(label="pos"), "has 1 class"),
        (lambda f: f[["label"]], "no feature columns"),
        (lambda f: f.iloc[0:0], "no rows"),
    ],
)
def test_validate_rejects(mutate: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    with pytest.raises(StageError, match=message):
        load.validate(mutate(frame()), DataParams(source="mem", target="label"))


def test_validate_regression_needs_numeric_label() -> None:
    with pytest.raises(StageError, match="must be numeric for regression"):
        load.validate(frame(), DataParams(source="mem", target="label", task="regression"))


def test_clean_drops_duplicates_and_unlabelled_rows() -> None:
    data = frame(60)
    dirty = pd.concat([data, data.head(5)], ignore_index=True)
    dirty.loc[10, "label"] = None
    cleaned = preprocess.clean(dirty, "label")
    assert len(cleaned) == 59
    assert cleaned["label"].notna().all()


def test_split_is_seeded_and_stratified() -> None:
    data = frame(200)
    params = PreprocessParams(test_size=0.25, val_size=0.2, seed=3)
    a = preprocess.split(data, "label", "classification", params)
    b = preprocess.split(data, "label", "classification", params)
    for left, right in zip(a, b):
        pd.testing.assert_frame_equal(left, right)
    train, val, test = a
    assert len(train) + len(val) + len(test) == 200
    assert len(test) == 50
    overall = (data["label"] == "pos").mean()
    assert abs((test["label"] == "pos").mean() - overall) < 0.03


def test_schema_inference_and_coercion() -> None:
    data = frame().drop(columns=["label"])
    data.loc[3, "x"] = np.nan
    features = schema.infer(data)
    by_name = {f.name: f for f in features}
    assert by_name["x"].kind == "numeric" and by_name["x"].nullable
    assert by_name["colour"].categories == ("a", "b", "c")
    assert by_name["flag"].kind == "boolean"
    coerced = schema.coerce(data, features)
    assert coerced["flag"].dtype == np.float64
    assert coerced["colour"].dtype == object
    assert schema.from_json(schema.to_json(features)) == features


def test_task_inference() -> None:
    assert schema.infer_task(pd.Series(["a", "b"])) == "classification"
    assert schema.infer_task(pd.Series([0, 1, 2, 1])) == "classification"
    assert schema.infer_task(pd.Series(np.linspace(0, 1, 50))) == "regression"


def test_preprocessor_ignores_unseen_categories() -> None:
    data = frame().drop(columns=["label"])
    features = schema.infer(data)
    pre = preprocess.build_preprocessor(features).fit(schema.coerce(data, features))
    unseen = data.head(2).assign(colour=["zzz", None])
    out = pre.transform(schema.coerce(unseen, features))
    assert out.shape[0] == 2 and np.isfinite(out).all()


@pytest.mark.parametrize("model", ["linear", "random_forest", "mlp", "gradient_boosting"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_every_family_trains_for_every_task(model: str, task: str) -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(150, 4))
    target = x[:, 0] * 3 + x[:, 1]
    y = np.where(target > 0, "a", "b") if task == "classification" else target * 10 + 50
    params = TrainParams(
        model=model, epochs=4, n_estimators=8, hidden_layers=(8,), learning_rate=0.05
    )
    split = train.Split(x[:100], y[:100]), train.Split(x[100:], y[100:])
    estimator, history = train.fit(split[0], split[1], task, params)
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    metric = "val_accuracy" if task == "classification" else "val_rmse"
    assert metric in history[-1]
    pred = estimator.predict(x[100:])
    if task == "classification":
        assert (pred == y[100:]).mean() > 0.8
    else:  # predictions come back in the target's own units
        assert np.sqrt(np.mean((pred - y[100:]) ** 2)) < np.std(y[100:])


def test_gradient_boosting_stops_early_on_the_validation_split() -> None:
    """Pure noise: the validation loss stops improving, no more rounds are added, and the
    epochs after the stop log the same scores."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 3)), rng.choice(["a", "b"], 300)
    params = TrainParams(model="gradient_boosting", epochs=10, max_iter=500, n_iter_no_change=5)
    model, history = train.fit(
        train.Split(x[:200], y[:200]), train.Split(x[200:], y[200:]), "classification", params
    )
    assert model.n_iter_ < 250  # stopped well before its share of the 500 rounds
    assert history[-1] == {**history[-2], "epoch": 10}
    off = TrainParams(model="gradient_boosting", epochs=10, max_iter=500, early_stopping=False)
    model, _ = train.fit(
        train.Split(x[:200], y[:200]), train.Split(x[200:], y[200:]), "classification", off
    )
    assert model.n_iter_ == 500


def test_train_asks_for_a_first_commit_in_an_empty_git_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DVCLive 3 stops with a traceback in a git repo without commits; the stage names the fix."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"git add -A && git commit"):
        train.live()
