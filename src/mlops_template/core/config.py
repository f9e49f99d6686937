"""params.yaml, read once into frozen, validated objects.

Unknown keys are an error that names the key, so a typo in params.yaml can't silently
fall back to a default.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from mlops_template.core import paths
from mlops_template.core.errors import ConfigError
from mlops_template.core.live_params import FeedbackParams, MonitorParams, validate_live

Task = Literal["classification", "regression"]
MODELS = ("linear", "random_forest", "mlp", "gradient_boosting")
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})


@dataclass(frozen=True)
class DataParams:
    """`data`: where the table comes from and what to predict (stage load)."""

    source: str = "breast_cancer"
    target: str = "diagnosis"
    task: Task | None = None
    sep: str = ","
    min_rows: int = 50


@dataclass(frozen=True)
class PreprocessParams:
    """`preprocess`: the seeded train/validation/test split."""

    test_size: float = 0.2
    val_size: float = 0.2
    seed: int = 42


@dataclass(frozen=True)
class TrainParams:
    """`train`: the model family and how it is fit, epoch by epoch.

    learning_rate and alpha apply to linear and mlp, n_estimators and max_depth to
    random_forest, hidden_layers to mlp; epochs and seed to every family. gradient_boosting
    reads max_depth and the keys from boosting_learning_rate on.
    """

    model: str = "linear"
    epochs: int = 20
    seed: int = 42
    learning_rate: float = 0.01
    alpha: float = 0.0001
    n_estimators: int = 100
    max_depth: int | None = None
    hidden_layers: tuple[int, ...] = (64, 32)
    boosting_learning_rate: float = 0.05
    max_iter: int = 300
    max_leaf_nodes: int = 31
    min_samples_leaf: int | None = None
    l2_regularization: float = 0.0
    early_stopping: bool = True
    n_iter_no_change: int = 10


@dataclass(frozen=True)
class EvaluateParams:
    """`evaluate`: the drift reference written into the model card."""

    drift_bins: int = 10
    importance_repeats: int = 5


@dataclass(frozen=True)
class GateParams:
    """`gate`: the headline metric and the bar a model must clear."""

    metric: str = "f1"
    min: float = 0.9
    max_drop: float = 0.02
    use_ci: bool = False
    confidence: float = 0.95
    resamples: int = 1000


@dataclass(frozen=True)
class TuneParams:
    """`tune`: the hyperparameter search of `make tune` (not a pipeline stage)."""

    trials: int = 30
    minutes: float | None = None
    seed: int = 42
    models: tuple[str, ...] = ()
    pruning: bool = True


@dataclass(frozen=True)
class Params:
    """All of params.yaml; each stage reads its own section."""

    data: DataParams = field(default_factory=DataParams)
    preprocess: PreprocessParams = field(default_factory=PreprocessParams)
    train: TrainParams = field(default_factory=TrainParams)
    evaluate: EvaluateParams = field(default_factory=EvaluateParams)
    gate: GateParams = field(default_factory=GateParams)
    monitor: MonitorParams = field(default_factory=MonitorParams)
    feedback: FeedbackParams = field(default_factory=FeedbackParams)
    tune: TuneParams = field(default_factory=TuneParams)


T = TypeVar("T")


def _build(cls: type[T], section: str, raw: Any) -> T:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params: section '{section}' must be a mapping")
    known = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in known:
            raise ConfigError(f"params: unknown key '{section}.{key}' (known: {', '.join(known)})")
    values = dict(raw)
    if "hidden_layers" in values and values["hidden_layers"] is not None:
        values["hidden_layers"] = tuple(int(v) for v in values["hidden_layers"])
    if cls is TuneParams and isinstance(values.get("models"), list):
        values["models"] = tuple(str(v) for v in values["models"])
    return cls(**values)


def _validate(p: Params) -> None:
    if p.data.task not in (None, "classification", "regression"):
        raise ConfigError(
            f"params: data.task must be classification or regression, not {p.data.task!r}"
        )
    if p.train.model not in MODELS:
        raise ConfigError(
            f"params: train.model must be one of {', '.join(MODELS)}, not {p.train.model!r}"
        )
    if p.train.epochs < 1:
        raise ConfigError("params: train.epochs must be at least 1")
    for name in ("test_size", "val_size"):
        value = getattr(p.preprocess, name)
        if not 0 < value < 1:
            raise ConfigError(f"params: preprocess.{name} must be between 0 and 1, not {value}")
    _validate_gbm(p)
    if p.evaluate.drift_bins < 2:
        raise ConfigError("params: evaluate.drift_bins must be at least 2")


def _validate_gbm(p: Params) -> None:
    """The keys of gradient boosting, tuning, importance and the gate's confidence interval."""
    for name in p.tune.models:
        if name not in MODELS:
            raise ConfigError(f"params: tune.models: {name!r} is not one of {', '.join(MODELS)}")
    at_least_one: dict[str, int | None] = {
        "train.max_iter": p.train.max_iter,
        "train.n_iter_no_change": p.train.n_iter_no_change,
        "train.min_samples_leaf": p.train.min_samples_leaf,  # None: chosen from the rows
        "tune.trials": p.tune.trials,
        "evaluate.importance_repeats": p.evaluate.importance_repeats,
        "gate.resamples": p.gate.resamples,
    }
    for key, number in at_least_one.items():
        if number is not None and number < 1:
            raise ConfigError(f"params: {key} must be at least 1, not {number}")
    if p.train.max_leaf_nodes < 2:
        raise ConfigError("params: train.max_leaf_nodes must be at least 2")
    if not p.train.boosting_learning_rate > 0 or p.train.l2_regularization < 0:
        raise ConfigError(
            "params: train.boosting_learning_rate must be positive, train.l2_regularization >= 0"
        )
    if p.tune.minutes is not None and not p.tune.minutes > 0:
        raise ConfigError(f"params: tune.minutes must be positive or null, not {p.tune.minutes}")
    if not 0 < p.gate.confidence < 1:
        raise ConfigError(
            f"params: gate.confidence must be between 0 and 1, not {p.gate.confidence}"
        )


def from_dict(raw: dict[str, Any]) -> Params:
    """Build validated params from a parsed params.yaml mapping."""
    sections = {f.name: f.type for f in dataclasses.fields(Params)}
    for key in raw:
        if key not in sections:
            raise ConfigError(f"params: unknown section '{key}' (known: {', '.join(sections)})")
    params = Params(
        data=_build(DataParams, "data", raw.get("data")),
        preprocess=_build(PreprocessParams, "preprocess", raw.get("preprocess")),
        train=_build(TrainParams, "train", raw.get("train")),
        evaluate=_build(EvaluateParams, "evaluate", raw.get("evaluate")),
        gate=_build(GateParams, "gate", raw.get("gate")),
        monitor=_build(MonitorParams, "monitor", raw.get("monitor")),
        feedback=_build(FeedbackParams, "feedback", raw.get("feedback")),
        tune=_build(TuneParams, "tune", raw.get("tune")),
    )
    _validate(params)
    validate_live(params.monitor, params.feedback, params.data.task)
    return params


def load(path: Path = paths.PARAMS) -> Params:
    """Read and validate params.yaml."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(f"params: {path} not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"params: {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"params: {path} must hold a mapping of sections")
    return from_dict(raw)


def as_dict(params: Params) -> dict[str, Any]:
    """Params as plain data, for the model card."""
    return dataclasses.asdict(params)
