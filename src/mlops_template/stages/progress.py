"""Training that diverges or goes nowhere fails the train stage, saying what happened and what
to change — never a green run with a model no better than guessing.

* a non-finite loss (training or validation) at any epoch;
* the validation loss rising 3 epochs in a row while the training loss rises too, for the
  families trained by gradient steps (linear, mlp): the fit is getting worse on its own data,
  which is divergence (a step size too large for the data), not overfitting (validation loss
  rising while training loss falls, which is logged as a warning). Tree families can't diverge
  that way: each random_forest epoch adds trees fitted to the labels, and each gradient_boosting
  round fits the current residuals, which lowers the training loss by construction (its
  validation loss is watched by its own early stopping);
* after the last epoch, a validation score no better than the baseline that ignores the
  features — the majority class with the training split's class shares, or the training mean —
  beyond the noise of the validation split: neither the per-row loss nor (classification) the
  per-row accuracy gains more than Z = 1.645 standard errors of its mean over the validation
  rows (a paired comparison, one-sided 95 %). One row's luck on noise labels is not "better";
  a forest whose near-0/1 probabilities make its log loss poor still passes on accuracy.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlops_template.core.config import TrainParams
from mlops_template.core.errors import StageError

log = logging.getLogger(__name__)

RISES = 3  # epochs in a row
RISE = 1e-3  # a relative increase smaller than this is a plateau, not a rise
GRADIENT_FAMILIES = frozenset({"linear", "mlp"})


# Standard errors a gain over the baseline must exceed: one-sided 95 %. A model that calls a
# single validation row differently from the baseline gains exactly one standard error.
Z = 1.645


@dataclass(frozen=True)
class Rows:
    """Per validation row: the loss (log loss of the true class, or squared error) and, for
    classification, whether the prediction is right."""

    loss: np.ndarray
    correct: np.ndarray | None


@dataclass(frozen=True)
class Baseline:
    """The prediction that ignores the features, scored on each validation row."""

    rows: Rows
    what: str


def baseline(y_train: np.ndarray, y_val: np.ndarray, task: str) -> Baseline:
    """Majority class with the training class shares as probabilities; or the training mean."""
    if task == "classification":
        classes, counts = np.unique(y_train, return_counts=True)
        shares = counts / counts.sum()
        lookup = {c: s for c, s in zip(classes.tolist(), shares)}
        p = np.array([lookup.get(v, 0.0) for v in y_val.tolist()], dtype=float)
        majority = classes[int(np.argmax(counts))]
        loss = -np.log(np.clip(p, 1e-15, 1.0))
        return Baseline(Rows(loss, y_val == majority), f"always the majority class '{majority}'")
    mean = float(np.mean(y_train))
    return Baseline(Rows((y_val - mean) ** 2, None), "always the training mean")


def gain(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """The mean of the paired per-row differences a − b and its standard error."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if len(diff) < 2:
        return float(diff.mean()) if len(diff) else 0.0, math.inf
    return float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff)))


def _advice(p: TrainParams) -> str:
    if p.model in GRADIENT_FAMILIES:
        return (
            f"lower train.learning_rate (now {p.learning_rate:g}) or try another family "
            "(train.model: random_forest or gradient_boosting)"
        )
    if p.model == "gradient_boosting":
        return (
            f"lower train.boosting_learning_rate (now {p.boosting_learning_rate:g}), raise "
            "train.max_iter, or try another family (train.model)"
        )
    return "try another family (train.model) or other settings for this one"


def check_epoch(history: list[dict[str, Any]], p: TrainParams) -> None:
    """After each epoch: StageError on a non-finite loss or on divergence."""
    row = history[-1]
    epoch = row["epoch"]
    for key in ("train_loss", "val_loss"):
        if not math.isfinite(row[key]):
            raise StageError(
                f"train: {key.replace('_', ' ')} is {row[key]} at epoch {epoch}: training "
                f"diverged; {_advice(p)}"
            )
    if len(history) <= RISES:
        return
    recent = history[-RISES - 1 :]
    val = [r["val_loss"] for r in recent]
    train = [r["train_loss"] for r in recent]
    val_up = all(b > a + RISE * abs(a) for a, b in zip(val, val[1:]))
    train_up = all(b > a + RISE * abs(a) for a, b in zip(train, train[1:]))
    shown = " → ".join(f"{v:.4g}" for v in val)
    if val_up and train_up and p.model in GRADIENT_FAMILIES:
        raise StageError(
            f"train: validation loss rose {RISES} epochs in a row with the training loss "
            f"(epochs {recent[0]['epoch']}–{epoch}: {shown}): training diverges; {_advice(p)}"
        )
    if val_up and epoch == p.epochs and val[-1] > 1.01 * val[0]:
        log.warning(
            "train: validation loss rose in the last %d epochs (%s) while training loss fell: "
            "overfitting; fewer train.epochs or a larger train.alpha may help",
            RISES,
            shown,
        )


def check_final(model: Rows, base: Baseline, epochs: int, task: str, p: TrainParams) -> None:
    """StageError when the model's validation loss and accuracy gain no more than Z standard
    errors over the baseline's."""
    n = len(base.rows.loss)
    loss_gain, loss_se = gain(base.rows.loss, model.loss)  # a lower loss is a gain
    if loss_gain > Z * loss_se:
        return
    noise = f"beyond the noise of the {n:,} validation rows ({Z:g} standard errors)"
    advice = f"check data.target and the features, raise train.epochs, or {_advice(p)}"
    if task == "classification":
        assert base.rows.correct is not None and model.correct is not None
        right, base_right = model.correct.astype(float), base.rows.correct.astype(float)
        accuracy_gain, accuracy_se = gain(right, base_right)
        if accuracy_gain > Z * accuracy_se:
            return
        raise StageError(
            f"train: the model learned nothing usable: after {epochs} epochs its validation "
            f"loss {model.loss.mean():.4g} and accuracy {right.mean():.4f} are no better than "
            f"{base.what} (loss {base.rows.loss.mean():.4g}, accuracy {base_right.mean():.4f}) "
            f"{noise}; {advice}"
        )
    raise StageError(
        f"train: the model learned nothing usable: after {epochs} epochs its validation RMSE "
        f"{math.sqrt(model.loss.mean()):.4g} is no better than {base.what} (RMSE "
        f"{math.sqrt(base.rows.loss.mean()):.4g}) {noise}; {advice}"
    )
