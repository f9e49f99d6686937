"""The model families, and one epoch of training for each.

Every family trains incrementally so the per-epoch curves are real: linear models and
MLPs take one pass over the shuffled training data per epoch (`partial_fit`); tree
ensembles grow `n_estimators / epochs` more trees per epoch (`warm_start`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from mlops_template.core.config import TrainParams


def build(task: str, p: TrainParams) -> BaseEstimator:
    """A fresh, unfitted estimator for `p.model` and `task`."""
    if p.model == "linear":
        # Averaged SGD: the weights served are the mean over the steps, so a constant step
        # size gives smooth, converging curves instead of noise around the optimum. Outlier
        # rows are bounded before this by preprocess.clip.
        kwargs: dict[str, Any] = dict(
            alpha=p.alpha,
            learning_rate="constant",
            eta0=p.learning_rate,
            average=True,
            random_state=p.seed,
        )
        if task == "classification":
            return SGDClassifier(loss="log_loss", **kwargs)
        return SGDRegressor(**kwargs)
    if p.model == "random_forest":
        forest = RandomForestClassifier if task == "classification" else RandomForestRegressor
        return forest(n_estimators=0, max_depth=p.max_depth, warm_start=True, random_state=p.seed)
    net = MLPClassifier if task == "classification" else MLPRegressor
    return net(
        hidden_layer_sizes=p.hidden_layers,
        alpha=p.alpha,
        learning_rate_init=p.learning_rate,
        batch_size=32,  # several updates per epoch even on small data sets
        random_state=p.seed,
    )


def fit_epoch(
    model: BaseEstimator,
    x: np.ndarray,
    y: np.ndarray,
    epoch: int,
    p: TrainParams,
    classes: np.ndarray | None,
) -> None:
    """Train `model` for epoch number `epoch` (1-based) of `p.epochs`."""
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)):
        model.set_params(n_estimators=max(1, math.ceil(p.n_estimators * epoch / p.epochs)))
        model.fit(x, y)
        return
    # No shuffled copy of the data (a full copy per epoch): SGD and MLP shuffle row indices
    # themselves; SGD re-seeds from random_state on every call, so give each epoch its own.
    if isinstance(model, (SGDClassifier, SGDRegressor)):
        seed = np.random.default_rng([p.seed, epoch]).integers(2**31 - 1)
        model.set_params(random_state=int(seed))
    if classes is not None:
        model.partial_fit(x, y, classes=classes)
    else:
        model.partial_fit(x, y)


def rescale_regressor(model: BaseEstimator, mean: float, scale: float) -> None:
    """Fold a standardised target back into the model's output layer (exact for linear outputs)."""
    if isinstance(model, SGDRegressor):
        model.coef_ = model.coef_ * scale
        model.intercept_ = model.intercept_ * scale + mean
    elif isinstance(model, MLPRegressor):
        model.coefs_[-1] = model.coefs_[-1] * scale
        model.intercepts_[-1] = model.intercepts_[-1] * scale + mean
