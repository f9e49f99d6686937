"""One trial of the search: the train stage's own `fit` with some params, scored on the
validation split (the test split is never read)."""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

import numpy as np

from mlops_template.core import metrics
from mlops_template.core.config import LOWER_IS_BETTER, Params, TrainParams
from mlops_template.core.errors import StageError
from mlops_template.core.predict import predict
from mlops_template.stages import explain
from mlops_template.stages import train as training
from mlops_template.stages.encoding import Split, load_splits
from mlops_template.tuning import space

Record = dict[str, Any]
Outputs = dict[str, Any]  # per-row validation outputs (the format of reports/predictions.json)
OUTPUTS = "_outputs"  # a record's outputs while the study runs (not written)


class Data:
    """The transformed train and validation splits, read once for every trial."""

    def __init__(self, train: Split, val: Split, task: str, classes: Any):
        self.train, self.val, self.task, self.classes = train, val, task, classes
        digest = hashlib.sha256(np.ascontiguousarray(val.x).tobytes())
        digest.update("\0".join(str(v) for v in val.y).encode())
        self.fingerprint = digest.hexdigest()  # the validation rows: pairs the bootstrap

    @classmethod
    def load(cls, params: Params) -> Data:
        try:
            doc, _, train, val = load_splits(params)
        except FileNotFoundError as exc:
            raise StageError(
                f"tune: {exc.filename} not found; run `dvc repro preprocess`"
            ) from None
        return cls(train, val, doc["task"], np.asarray(doc["classes"], dtype=object))


def score(model: Any, data: Data, metric: str) -> tuple[float, Outputs]:
    """The headline metric of `model` on the validation split, and its per-row outputs."""
    pred, proba = predict(model, data.val.x, data.task)
    scores = metrics.score(data.val.y, pred, proba, data.classes)
    if metric not in scores:
        raise StageError(f"tune: metric '{metric}' not among {', '.join(scores)} (gate.metric)")
    outputs = explain.predictions(
        data.fingerprint, data.val.y, pred, proba, data.task, data.classes
    )
    return scores[metric], outputs


def train_values(p: TrainParams) -> dict[str, Any]:
    """The family and its searched keys, as params.yaml spells them."""
    values = {"model": p.model, **space.searched(p)}
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}


def attempt(p: TrainParams, data: Data, metric: str, trial: Any = None) -> Record:
    """Train with `p` and score it; with an Optuna `trial`, report each epoch's validation loss
    to its pruner (optuna.TrialPruned propagates)."""
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0  # intermediate values in the study's sense
    epochs = 0

    def on_epoch(row: dict[str, Any]) -> None:
        nonlocal epochs
        epochs = row["epoch"]
        if trial is not None:
            trial.set_user_attr("epochs", epochs)
            loss = float(row["val_loss"])
            if not math.isfinite(loss):
                raise StageError(f"validation loss is {loss} at epoch {epochs}")
            trial.report(sign * loss, epochs)
            if trial.should_prune():
                import optuna

                raise optuna.TrialPruned(f"pruned at epoch {epochs}")

    start = time.perf_counter()
    record: Record = {"params": train_values(p), "state": "complete", "value": None}
    try:
        model, _ = training.fit(data.train, data.val, data.task, p, on_epoch=on_epoch)
        value, record[OUTPUTS] = score(model, data, metric)
        record["value"] = round(value, 6)
    except (StageError, ValueError, FloatingPointError) as exc:
        record["state"], record["note"] = "failed", str(exc).splitlines()[0][:200]
    record["epochs"] = epochs
    record["seconds"] = round(time.perf_counter() - start, 2)
    return record
