"""params.yaml, read once into frozen, validated objects.

Unknown keys are an error that names the key, so a typo in params.yaml can't silently
fall back to a default.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from mlops_template.core import paths
from mlops_template.core.errors import ConfigError

Task = Literal["classification", "regression"]
MODELS = ("linear", "random_forest", "mlp")
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
    random_forest, hidden_layers to mlp; epochs and seed to every family.
    """

    model: str = "linear"
    epochs: int = 20
    seed: int = 42
    learning_rate: float = 0.01
    alpha: float = 0.0001
    n_estimators: int = 100
    max_depth: int | None = None
    hidden_layers: tuple[int, ...] = (64, 32)


@dataclass(frozen=True)
class EvaluateParams:
    """`evaluate`: the drift reference written into the model card."""

    drift_bins: int = 10


@dataclass(frozen=True)
class GateParams:
    """`gate`: the headline metric and the bar a model must clear."""

    metric: str = "f1"
    min: float = 0.9
    max_drop: float = 0.02


@dataclass(frozen=True)
class MonitorParams:
    """`monitor`: live quality from the labels sent to /feedback, and when it alerts.

    The monitor-rules target writes monitoring/prometheus/rules/quality.yml from this section (the
    recording rules over `window` and the ModelQualityDrop alert); no stage reads it.
    """

    metric: str = "accuracy"  # accuracy (classification) | mae (regression)
    floor: float = 0.85  # alert when accuracy falls below (mae: rises above) this
    min_labels: int = 100  # ...with at least this many labels in the window
    window: str = "1h"  # rolling window (a Prometheus duration)
    alert_after: str = "10m"  # how long it must stay so before the alert fires


@dataclass(frozen=True)
class FeedbackParams:
    """`feedback`: labelled production rows (the feedback-data target) in the training data
    (stage load reads `mode`; the join command reads `window_days`)."""

    mode: str = "append"  # append (to data.source) | replace (production rows only)
    window_days: float = 30.0  # rows served in the last N days (0 = everything captured)


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
    if p.evaluate.drift_bins < 2:
        raise ConfigError("params: evaluate.drift_bins must be at least 2")


DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")  # a Prometheus duration


def _validate_feedback(p: Params) -> None:
    m = p.monitor
    if m.metric not in ("accuracy", "mae"):
        raise ConfigError(f"params: monitor.metric must be accuracy or mae, not {m.metric!r}")
    task = {"accuracy": "classification", "mae": "regression"}[m.metric]
    if p.data.task not in (None, task):
        raise ConfigError(f"params: monitor.metric {m.metric} needs data.task {task}")
    if not isinstance(m.floor, (int, float)) or isinstance(m.floor, bool):
        raise ConfigError(f"params: monitor.floor must be a number, not {m.floor!r}")
    if m.metric == "accuracy" and not 0 < m.floor <= 1:
        raise ConfigError(f"params: monitor.floor (accuracy) must be in (0, 1], not {m.floor}")
    if m.metric == "mae" and not m.floor > 0:
        raise ConfigError(f"params: monitor.floor (mae) must be above 0, not {m.floor}")
    if not isinstance(m.min_labels, int) or isinstance(m.min_labels, bool) or m.min_labels < 1:
        raise ConfigError(
            f"params: monitor.min_labels must be an integer >= 1, not {m.min_labels!r}"
        )
    for key in ("window", "alert_after"):
        value = getattr(m, key)
        if not isinstance(value, str) or not DURATION.match(value):
            raise ConfigError(
                f"params: monitor.{key} must be a Prometheus duration like 1h or 15m, not {value!r}"
            )
    f = p.feedback
    if f.mode not in ("append", "replace"):
        raise ConfigError(f"params: feedback.mode must be append or replace, not {f.mode!r}")
    if not isinstance(f.window_days, (int, float)) or f.window_days < 0:
        raise ConfigError(f"params: feedback.window_days must be >= 0, not {f.window_days!r}")


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
    )
    _validate(params)
    _validate_feedback(params)
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
