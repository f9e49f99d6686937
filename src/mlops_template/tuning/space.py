"""What the tuner may change: per family, the train params it searches and their ranges.

Each suggestion is rounded to 4 significant digits before it is used, so the params a trial
trained with are exactly the ones the leaderboard shows and `--apply` writes. Parameter names
carry the family (`gradient_boosting.max_iter`): families share key names with different
ranges, and Optuna keeps one distribution per name.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Protocol

from mlops_template.core.config import TrainParams


class Trial(Protocol):
    """The part of `optuna.Trial` a search space uses."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = ...) -> float: ...

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = ..., log: bool = ...
    ) -> int: ...

    def suggest_categorical(self, name: str, choices: Any) -> Any: ...


def sig(value: float, digits: int = 4) -> float:
    """`value` rounded to `digits` significant digits."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


HIDDEN_LAYERS = {"32": (32,), "64-32": (64, 32), "128-64": (128, 64)}
DEPTHS = (None, 3, 5, 8, 12)


def _linear(t: Trial) -> dict[str, Any]:
    return {
        "learning_rate": sig(t.suggest_float("linear.learning_rate", 1e-4, 0.1, log=True)),
        "alpha": sig(t.suggest_float("linear.alpha", 1e-6, 1e-2, log=True)),
    }


def _mlp(t: Trial) -> dict[str, Any]:
    layers = t.suggest_categorical("mlp.hidden_layers", list(HIDDEN_LAYERS))
    return {
        "learning_rate": sig(t.suggest_float("mlp.learning_rate", 1e-4, 3e-2, log=True)),
        "alpha": sig(t.suggest_float("mlp.alpha", 1e-6, 1e-2, log=True)),
        "hidden_layers": HIDDEN_LAYERS[layers],
    }


def _forest(t: Trial) -> dict[str, Any]:
    return {
        "n_estimators": t.suggest_int("random_forest.n_estimators", 50, 400, step=50),
        "max_depth": t.suggest_categorical("random_forest.max_depth", list(DEPTHS)),
    }


def _boosting(t: Trial) -> dict[str, Any]:
    return {
        "boosting_learning_rate": sig(
            t.suggest_float("gradient_boosting.learning_rate", 0.02, 0.3, log=True)
        ),
        "max_iter": t.suggest_int("gradient_boosting.max_iter", 50, 400, step=50),
        "max_leaf_nodes": t.suggest_int("gradient_boosting.max_leaf_nodes", 7, 63, log=True),
        "min_samples_leaf": t.suggest_int("gradient_boosting.min_samples_leaf", 5, 40, log=True),
        "l2_regularization": sig(
            t.suggest_float("gradient_boosting.l2_regularization", 1e-3, 10.0, log=True)
        ),
        "max_depth": t.suggest_categorical("gradient_boosting.max_depth", list(DEPTHS)),
    }


SPACES = {
    "linear": _linear,
    "mlp": _mlp,
    "random_forest": _forest,
    "gradient_boosting": _boosting,
}


def suggest(trial: Trial, base: TrainParams, families: tuple[str, ...]) -> TrainParams:
    """The train params of one trial: `base` with the searched keys of the chosen family."""
    family = base.model
    if len(families) > 1:
        family = trial.suggest_categorical("model", list(families))
    return dataclasses.replace(base, model=family, **SPACES[family](trial))


class _Probe:
    """A stand-in trial that takes the first choice or the low end: reveals a space's keys."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float:
        return low

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        return choices[0]


def searched(base: TrainParams) -> dict[str, Any]:
    """The values `base` has for the keys its family's space searches (params.yaml's entry)."""
    return {name: getattr(base, name) for name in SPACES[base.model](_Probe())}
