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
  features: the majority class with the training split's class shares (neither a lower loss
  nor a higher accuracy), or the training mean for regression (no lower mean squared error).
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


@dataclass(frozen=True)
class Baseline:
    """The validation scores of the prediction that ignores the features."""

    loss: float
    accuracy: float | None  # classification only
    what: str


def baseline(y_train: np.ndarray, y_val: np.ndarray, task: str) -> Baseline:
    """Majority class with the training class shares as probabilities; or the training mean."""
    if task == "classification":
        classes, counts = np.unique(y_train, return_counts=True)
        shares = counts / counts.sum()
        lookup = {c: s for c, s in zip(classes.tolist(), shares)}
        p = np.array([lookup.get(v, 0.0) for v in y_val.tolist()], dtype=float)
        loss = float(-np.mean(np.log(np.clip(p, 1e-15, 1.0))))
        majority = classes[int(np.argmax(counts))]
        accuracy = float(np.mean(y_val == majority))
        return Baseline(loss, accuracy, f"always the majority class '{majority}'")
    mean = float(np.mean(y_train))
    return Baseline(float(np.mean((y_val - mean) ** 2)), None, "always the training mean")


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


def check_final(row: dict[str, Any], base: Baseline, task: str, p: TrainParams) -> None:
    """StageError when the last epoch's validation score is no better than the baseline."""
    loss = row["val_loss"]
    if task == "classification":
        accuracy = row["val_accuracy"]
        assert base.accuracy is not None
        if loss < base.loss or accuracy > base.accuracy:
            return
        raise StageError(
            f"train: after {row['epoch']} epochs the validation loss {loss:.4g} and accuracy "
            f"{accuracy:.4f} are no better than {base.what} (loss {base.loss:.4g}, accuracy "
            f"{base.accuracy:.4f}): the model learned nothing usable; check data.target and "
            f"the features, raise train.epochs, or {_advice(p)}"
        )
    if loss < base.loss:
        return
    raise StageError(
        f"train: after {row['epoch']} epochs the validation RMSE {math.sqrt(loss):.4g} is no "
        f"better than {base.what} (RMSE {math.sqrt(base.loss):.4g}): the model learned nothing "
        f"usable; check data.target and the features, raise train.epochs, or {_advice(p)}"
    )
