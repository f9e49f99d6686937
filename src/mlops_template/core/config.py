"""params.yaml, read once into frozen, validated objects.

Every key is optional (its default is the dataclass field's), typed by the field's annotation
and bounded by the field's `limits`: an unknown key, a value of the wrong type or one out of
bounds is an error naming the key, so a typo in params.yaml can't silently fall back to a
default and `epochs: -1` or `n_estimators: 1000000000` can't reach a stage.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from mlops_template.core import paths
from mlops_template.core.errors import ConfigError
from mlops_template.core.typed import build, limits
from mlops_template.core.live_params import FeedbackParams, MonitorParams, validate_live

Task = Literal["classification", "regression"]
SplitMode = Literal["random", "group", "time"]
MODELS = ("linear", "random_forest", "mlp", "gradient_boosting")
LOWER_IS_BETTER = frozenset({"rmse", "mae", "log_loss"})

SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class DataParams:
    """`data`: where the table comes from and what to predict (stage load)."""

    source: str = "breast_cancer"
    target: str = "diagnosis"
    task: Task | None = None
    sep: str = ","
    min_rows: int = limits(20, ge=1, le=10**9)


@dataclass(frozen=True)
class PreprocessParams:
    """`preprocess`: cleaning, the train/validation/test split and the feature encoding."""

    test_size: float = limits(0.2, gt=0, lt=1)
    val_size: float = limits(0.2, gt=0, lt=1)
    seed: int = limits(42, ge=0, le=SEED_MAX)
    dedupe: bool = False
    max_dropped: float = limits(0.5, ge=0, le=1)
    split: SplitMode = "random"
    split_column: str | None = None
    keep_ids: bool = False
    max_categories: int = limits(50, ge=2, le=1000)
    min_frequency: int = limits(5, ge=1, le=10**9)
    clip: float | None = limits(5.0, gt=0, le=1000)


@dataclass(frozen=True)
class TrainParams:
    """`train`: the model family and how it is fit, epoch by epoch.

    learning_rate and alpha apply to linear and mlp, n_estimators and max_depth to
    random_forest, hidden_layers to mlp; epochs and seed to every family. gradient_boosting
    reads max_depth and the keys from boosting_learning_rate on.
    """

    model: str = "linear"
    epochs: int = limits(20, ge=1, le=10_000)
    seed: int = limits(42, ge=0, le=SEED_MAX)
    learning_rate: float = limits(0.01, gt=0, le=10)
    alpha: float = limits(0.0001, ge=0, le=100)
    n_estimators: int = limits(100, ge=1, le=10_000)
    max_depth: int | None = limits(None, ge=1, le=1000)
    hidden_layers: tuple[int, ...] = limits((64, 32), ge=1, le=4096, max_len=10)
    boosting_learning_rate: float = limits(0.05, gt=0, le=10)
    max_iter: int = limits(300, ge=1, le=10_000)
    max_leaf_nodes: int = limits(31, ge=2, le=100_000)
    min_samples_leaf: int | None = limits(None, ge=1, le=10**9)
    l2_regularization: float = limits(0.0, ge=0, le=10**6)
    early_stopping: bool = True
    n_iter_no_change: int = limits(10, ge=1, le=10_000)


@dataclass(frozen=True)
class EvaluateParams:
    """`evaluate`: the drift reference written into the model card."""

    drift_bins: int = limits(10, ge=2, le=100)
    importance_repeats: int = limits(5, ge=1, le=1000)


@dataclass(frozen=True)
class GateParams:
    """`gate`: the headline metric and the bar a model must clear."""

    metric: str = "f1"
    min: float = 0.9
    max_drop: float = limits(0.02, ge=0)
    use_ci: bool = False
    confidence: float = limits(0.95, gt=0, lt=1)
    resamples: int = limits(1000, ge=1, le=1_000_000)


@dataclass(frozen=True)
class TuneParams:
    """`tune`: the hyperparameter search of `make tune` (not a pipeline stage)."""

    trials: int = limits(30, ge=1, le=100_000)
    minutes: float | None = limits(None, gt=0, le=100_000)
    seed: int = limits(42, ge=0, le=SEED_MAX)
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


def _validate(p: Params) -> None:
    if p.train.model not in MODELS:
        raise ConfigError(
            f"params: train.model must be one of {', '.join(MODELS)}, not {p.train.model!r}"
        )
    if p.preprocess.split != "random" and not p.preprocess.split_column:
        raise ConfigError(
            f"params: preprocess.split {p.preprocess.split} needs preprocess.split_column "
            "(the group or time column)"
        )
    if p.preprocess.split_column == p.data.target:
        raise ConfigError("params: preprocess.split_column can't be the target column")
    for name in ("source", "target", "sep", "metric"):
        section = p.gate if name == "metric" else p.data
        if not getattr(section, name):
            where = "gate" if name == "metric" else "data"
            raise ConfigError(f"params: {where}.{name} must not be empty")
    for name in p.tune.models:
        if name not in MODELS:
            raise ConfigError(f"params: tune.models: {name!r} is not one of {', '.join(MODELS)}")


def from_dict(raw: dict[str, Any]) -> Params:
    """Build validated params from a parsed params.yaml mapping."""
    sections = {f.name: f for f in dataclasses.fields(Params)}
    for key in raw:
        if key not in sections:
            raise ConfigError(f"params: unknown section '{key}' (known: {', '.join(sections)})")
    hints = typing.get_type_hints(Params)
    built = {name: build(hints[name], name, raw.get(name)) for name in sections}
    params = Params(**built)
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
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params: {path} must hold a mapping of sections")
    return from_dict(raw)


def as_dict(params: Params) -> dict[str, Any]:
    """Params as plain data, for the model card."""
    return dataclasses.asdict(params)
