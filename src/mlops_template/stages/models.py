"""The model families, and one epoch of training for each.

Every family trains incrementally so the per-epoch curves are real: linear models and
MLPs take one pass over the shuffled training data per epoch (`partial_fit`); tree
ensembles grow `n_estimators / epochs` more trees per epoch (`warm_start`), and gradient
boosting `max_iter / epochs` more rounds, until early stopping on the validation split ends it.
"""

from __future__ import annotations

import contextlib
import logging
import math
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import SGDClassifier, SGDRegressor
from sklearn.neural_network import MLPClassifier, MLPRegressor

from mlops_template.core.config import TrainParams

log = logging.getLogger(__name__)

# Families whose regression target is used as is (trees don't need a standardised target, and
# their output can't be rescaled exactly afterwards).
TREES = ("random_forest", "gradient_boosting")
BOOSTING = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)
# Below this many rows, OpenMP threads cost more than they save: gradient boosting on the
# default data set (364 training rows) took 25 s with 2 threads and 1 s with one on a busy
# 2-core machine (the threads wait on each other at every split).
SINGLE_THREAD_ROWS = 50_000


def threads(rows: int) -> contextlib.AbstractContextManager[Any]:
    """The OpenMP thread limit for fitting or predicting on `rows` rows (one on small data)."""
    if rows >= SINGLE_THREAD_ROWS:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    limit: contextlib.AbstractContextManager[Any] = threadpool_limits(1, user_api="openmp")
    return limit


def build(task: str, p: TrainParams) -> BaseEstimator:
    """A fresh, unfitted estimator for `p.model` and `task`."""
    if p.model == "linear":
        kwargs: dict[str, Any] = dict(
            alpha=p.alpha, learning_rate="constant", eta0=p.learning_rate, random_state=p.seed
        )
        if task == "classification":
            return SGDClassifier(loss="log_loss", **kwargs)
        return SGDRegressor(**kwargs)
    if p.model == "gradient_boosting":
        return boosting(task, p)
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


def boosting(task: str, p: TrainParams) -> BaseEstimator:
    """Histogram gradient boosting on the preprocessed (imputed, one-hot) features."""
    kind = (
        HistGradientBoostingClassifier
        if task == "classification"
        else HistGradientBoostingRegressor
    )
    return kind(
        learning_rate=p.boosting_learning_rate,
        max_iter=1,  # grown epoch by epoch in fit_epoch
        max_leaf_nodes=p.max_leaf_nodes,
        max_depth=p.max_depth,
        min_samples_leaf=p.min_samples_leaf or 20,  # None: set from the rows in boost_epoch
        l2_regularization=p.l2_regularization,
        early_stopping=p.early_stopping,
        n_iter_no_change=p.n_iter_no_change,
        scoring="loss",
        categorical_features=None,  # the one-hot columns are numbers: no native categories
        warm_start=True,
        random_state=p.seed,
    )


def leaf_size(rows: int) -> int:
    """The default rows per leaf: sklearn's 20, but on tiny tables (under 300 training rows) a
    fifteenth of the rows, at least 5, so a leaf can still separate a small class."""
    return max(5, min(20, rows // 15))


def boost_epoch(
    model: Any, x: np.ndarray, y: np.ndarray, epoch: int, p: TrainParams, val: Any
) -> None:
    """Grow the ensemble to its share of `p.max_iter` rounds after epoch `epoch`.

    Early stopping watches the loss on the validation split (`val`); once it stopped the
    ensemble, later epochs add nothing (and log the same scores)."""
    if epoch > 1 and model.n_iter_ < model.max_iter:
        return
    if epoch == 1 and p.min_samples_leaf is None:
        model.set_params(min_samples_leaf=leaf_size(len(y)))
    model.set_params(max_iter=max(1, math.ceil(p.max_iter * epoch / p.epochs)))
    if p.early_stopping and val is not None:
        model.fit(x, y, X_val=val[0], y_val=val[1])
    else:
        model.fit(x, y)
    if model.n_iter_ < model.max_iter:
        log.info(
            "gradient boosting: early stopping after %d rounds (validation loss flat for %d)",
            model.n_iter_,
            p.n_iter_no_change,
        )


def fit_epoch(
    model: BaseEstimator,
    x: np.ndarray,
    y: np.ndarray,
    epoch: int,
    p: TrainParams,
    classes: np.ndarray | None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Train `model` for epoch number `epoch` (1-based) of `p.epochs` (`val`: the validation
    split, for early stopping)."""
    if isinstance(model, BOOSTING):
        boost_epoch(model, x, y, epoch, p, val)
        return
    if isinstance(model, (RandomForestClassifier, RandomForestRegressor)):
        model.set_params(n_estimators=max(1, math.ceil(p.n_estimators * epoch / p.epochs)))
        model.fit(x, y)
        return
    order = np.random.default_rng([p.seed, epoch]).permutation(len(y))
    if classes is not None:
        model.partial_fit(x[order], y[order], classes=classes)
    else:
        model.partial_fit(x[order], y[order])


def rescale_regressor(model: BaseEstimator, mean: float, scale: float) -> None:
    """Fold a standardised target back into the model's output layer (exact for linear outputs)."""
    if isinstance(model, SGDRegressor):
        model.coef_ = model.coef_ * scale
        model.intercept_ = model.intercept_ * scale + mean
    elif isinstance(model, MLPRegressor):
        model.coefs_[-1] = model.coefs_[-1] * scale
        model.intercepts_[-1] = model.intercepts_[-1] * scale + mean
