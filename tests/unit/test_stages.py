"""Unit tests of each stage's pure core on small synthetic frames."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.stages import load, models, splits, train
from mlops_template.stages.encoding import Split
from mlops_template.stages import features as encoding
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
        (lambda f: f.head(10), "need at least 20"),
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


def test_clean_keeps_duplicates_unless_asked_and_counts_unlabelled_rows() -> None:
    data = frame(60)
    dirty = pd.concat([data, data.head(5)], ignore_index=True)
    dirty.loc[10, "label"] = None
    kept, done = splits.clean(dirty, "label", "classification", dedupe=False)
    assert len(kept) == 64 and kept["label"].notna().all()
    assert (done.rows, done.unlabelled, done.duplicates, done.kept) == (65, 1, 0, 64)
    deduped, done = splits.clean(dirty, "label", "classification", dedupe=True)
    assert len(deduped) == 59 and done.duplicates == 5 and done.labelled == 64


def test_split_is_seeded_and_stratified() -> None:
    data = frame(200)
    params = PreprocessParams(test_size=0.25, val_size=0.2, seed=3)
    a = splits.split(data, "label", "classification", params)
    b = splits.split(data, "label", "classification", params)
    for left, right in zip((a.train, a.val, a.test), (b.train, b.val, b.test)):
        np.testing.assert_array_equal(left, right)
    everything = np.concatenate([a.train, a.val, a.test])
    assert sorted(everything.tolist()) == list(range(200))
    assert len(a.test) == 50
    overall = (data["label"] == "pos").mean()
    assert abs((data["label"].iloc[a.test] == "pos").mean() - overall) < 0.03


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
    pre = encoding.build_preprocessor(features).fit(schema.coerce(data, features))
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
    split = Split(x[:100], y[:100]), Split(x[100:], y[100:])
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
    """A weak signal in much noise: the validation loss soon stops improving, no more rounds
    are added, and the epochs after the stop log the same scores."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 3))
    y = np.where(x[:, 0] + rng.normal(scale=1.0, size=300) > 0, "a", "b")
    parts = Split(x[:200], y[:200]), Split(x[200:], y[200:])
    params = TrainParams(model="gradient_boosting", epochs=10, max_iter=500, n_iter_no_change=5)
    model, history = train.fit(*parts, "classification", params)
    assert model.n_iter_ < 250  # stopped well before its share of the 500 rounds
    assert history[-1] == {**history[-2], "epoch": 10}
    off = TrainParams(model="gradient_boosting", epochs=10, max_iter=500, early_stopping=False)
    model = models.build("classification", off)
    for epoch in range(1, 11):  # the epochs alone: 500 rounds on 200 rows overfit on purpose
        models.fit_epoch(model, x[:200], y[:200], epoch, off, np.unique(y[:200]))
    assert model.n_iter_ == 500


def test_gradient_boosting_on_pure_noise_is_refused() -> None:
    """The baseline check holds for every family: boosting on labels the features can't
    predict fails the stage with the boosting keys to change, not a model saved."""
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(300, 3)), rng.choice(["a", "b"], 300)
    params = TrainParams(model="gradient_boosting", epochs=10, max_iter=500, n_iter_no_change=5)
    with pytest.raises(StageError, match=r"learned nothing usable.*train.boosting_learning_rate"):
        train.fit(
            Split(x[:200], y[:200]),
            Split(x[200:], y[200:]),
            "classification",
            params,
        )
    noise = rng.normal(size=300)
    with pytest.raises(StageError, match=r"validation RMSE .* no better than always the training"):
        train.fit(
            Split(x[:200], noise[:200]),
            Split(x[200:], noise[200:]),
            "regression",
            params,
        )


def test_train_asks_for_a_first_commit_in_an_empty_git_repo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DVCLive 3 stops with a traceback in a git repo without commits; the stage names the fix."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StageError, match=r"git add -A && git commit"):
        train.live()
