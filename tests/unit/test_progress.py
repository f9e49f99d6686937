"""Training that diverges or learns nothing fails the train stage with one line saying what to
change; the baseline that ignores the features is scored next to the test metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlops_template.core import metrics
from mlops_template.core.config import TrainParams
from mlops_template.core.errors import StageError
from mlops_template.stages import encoding, progress, train


def rows(val: list[float], train_loss: list[float]) -> list[dict[str, Any]]:
    return [
        {"epoch": i + 1, "val_loss": v, "train_loss": t}
        for i, (v, t) in enumerate(zip(val, train_loss))
    ]


def run_checks(history: list[dict[str, Any]], p: TrainParams) -> None:
    for end in range(1, len(history) + 1):
        progress.check_epoch(history[:end], p)


def test_a_non_finite_loss_fails_at_once() -> None:
    with pytest.raises(StageError, match=r"val loss is nan at epoch 2: training diverged; lower"):
        run_checks(rows([1.0, float("nan")], [1.0, 0.9]), TrainParams())


def test_losses_rising_together_three_epochs_in_a_row_is_divergence() -> None:
    history = rows([5.0, 4.0, 6.0, 9.0, 30.0], [5.0, 4.0, 6.5, 9.5, 40.0])
    with pytest.raises(StageError) as info:
        run_checks(history, TrainParams(learning_rate=0.5))
    message = str(info.value)
    assert "rose 3 epochs in a row" in message and "epochs 2–5" in message
    assert "train.learning_rate (now 0.5)" in message and "\n" not in message


def test_overfitting_and_plateaus_are_not_divergence() -> None:
    overfit = rows([1.0, 0.5, 0.6, 0.7, 0.8], [1.0, 0.4, 0.3, 0.2, 0.1])
    run_checks(overfit, TrainParams(epochs=5))
    plateau = rows([0.5, 0.50001, 0.50002, 0.50003], [0.4, 0.40001, 0.40002, 0.40003])
    run_checks(plateau, TrainParams())


@pytest.mark.parametrize("family", ["random_forest", "gradient_boosting"])
def test_tree_ensembles_are_not_checked_for_divergence(family: str) -> None:
    """A forest has no step size (its in-sample log loss often rises as trees are added);
    boosting watches its validation loss itself (early stopping). Non-finite still fails."""
    history = rows([0.09, 0.10, 0.11, 0.12], [0.01, 0.02, 0.03, 0.04])
    run_checks(history, TrainParams(model=family))
    with pytest.raises(StageError, match="train loss is inf at epoch 2"):
        run_checks(rows([0.1, 0.1], [0.1, float("inf")]), TrainParams(model=family))


def test_the_baseline_is_scored_row_by_row() -> None:
    y_train = np.array(["a"] * 70 + ["b"] * 30, dtype=object)
    y_val = np.array(["a"] * 14 + ["b"] * 6, dtype=object)
    base = progress.baseline(y_train, y_val, "classification")
    assert base.rows.correct is not None and base.rows.correct.mean() == pytest.approx(0.7)
    expected = -(0.7 * np.log(0.7) + 0.3 * np.log(0.3))
    assert base.rows.loss.mean() == pytest.approx(expected)
    assert "majority class 'a'" in base.what
    mean = progress.baseline(np.array([1.0, 3.0]), np.array([0.0, 4.0]), "regression")
    assert mean.rows.loss.tolist() == [4.0, 4.0] and mean.rows.correct is None


def classified(right: int, n: int = 400, loss: float = 0.7) -> progress.Rows:
    """A model right on the first `right` of n rows, with a flat per-row loss."""
    return progress.Rows(np.full(n, loss), np.arange(n) < right)


def test_one_lucky_row_is_not_better_than_the_majority_class() -> None:
    """Noise labels: 240 of 400 rows are the majority class; a model right on 241 of them (a
    boosting model that called a single row differently) is within the noise."""
    y = np.array(["no"] * 240 + ["yes"] * 160, dtype=object)
    base = progress.baseline(y, y, "classification")
    lucky = progress.Rows(np.full(400, 0.68), base.rows.correct.copy())
    lucky.correct[240] = True  # one more row right
    with pytest.raises(StageError) as info:
        progress.check_final(lucky, base, 20, "classification", TrainParams())
    message = str(info.value)
    assert "no better than always the majority class 'no'" in message
    assert "beyond the noise of the 400 validation rows" in message and "\n" not in message


def test_a_clear_gain_in_accuracy_or_in_loss_passes() -> None:
    y = np.array(["no"] * 240 + ["yes"] * 160, dtype=object)
    base = progress.baseline(y, y, "classification")
    assert base.rows.correct is not None
    # a forest's 0/1 probabilities: a poor log loss, but right far more often
    sharp = progress.Rows(np.full(400, 3.0), np.arange(400) < 330)
    progress.check_final(sharp, base, 20, "classification", TrainParams(model="random_forest"))
    # the same accuracy as the majority class, but calibrated probabilities: a lower loss
    calibrated = progress.Rows(base.rows.loss * 0.8, base.rows.correct)
    progress.check_final(calibrated, base, 20, "classification", TrainParams())


def test_no_better_than_the_mean_fails_and_a_clear_gain_passes() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=300)
    base = progress.baseline(y, y, "regression")
    noise = progress.Rows((y - rng.normal(scale=0.05, size=300)) ** 2, None)
    with pytest.raises(
        StageError, match=r"validation RMSE [\d.]+ is no better than always the training mean"
    ):
        progress.check_final(noise, base, 3, "regression", TrainParams())
    progress.check_final(progress.Rows((0.5 * y) ** 2, None), base, 3, "regression", TrainParams())


def test_fit_stops_on_a_table_it_cannot_learn() -> None:
    """Labels independent of the features: the train stage must refuse, not save a model."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3))
    y = rng.choice(["a", "b"], 400, p=[0.7, 0.3]).astype(object)
    parts = encoding.Split(x[:300], y[:300]), encoding.Split(x[300:], y[300:])
    with pytest.raises(StageError, match="learned nothing usable"):
        train.fit(*parts, "classification", TrainParams(epochs=5))


def test_the_train_loss_is_scored_on_a_fixed_sample() -> None:
    part = encoding.Split(np.arange(50_000.0).reshape(-1, 1), np.arange(50_000.0))
    a, b = train.sample(part, 1000, 7), train.sample(part, 1000, 7)
    assert len(a.y) == 1000 and np.array_equal(a.y, b.y) and np.array_equal(a.x[:, 0], a.y)
    assert train.sample(part, 10**6, 7) is part


def test_log_loss_matches_sklearn() -> None:
    from sklearn.metrics import log_loss

    rng = np.random.default_rng(1)
    proba = rng.dirichlet([1, 1, 1], 200)
    classes = np.array(["a", "b", "c"], dtype=object)
    y = rng.choice(classes, 200)
    assert train.log_loss(y, proba, classes) == pytest.approx(log_loss(y, proba, labels=classes))


def test_baseline_metrics_are_flat_prefixed_numbers() -> None:
    classes = np.array(["no", "yes"], dtype=object)
    y_train = np.array(["no"] * 60 + ["yes"] * 40, dtype=object)
    y_test = np.array(["no"] * 12 + ["yes"] * 8, dtype=object)
    scores = metrics.baseline(y_train, y_test, classes, "classification")
    assert scores["baseline_accuracy"] == 0.6 and scores["baseline_f1"] == 0.0
    assert scores["baseline_roc_auc"] == 0.5
    assert all(isinstance(v, float) for v in scores.values())
    reg = metrics.baseline(np.array([1.0, 2.0, 3.0]), np.array([1.0, 3.0]), classes, "regression")
    assert reg == {"baseline_mae": 1.0, "baseline_rmse": 1.0, "baseline_r2": 0.0}
