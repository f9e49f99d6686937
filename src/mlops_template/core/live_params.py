"""The `monitor` and `feedback` sections of params.yaml: live quality from /feedback labels and
labelled production rows in the training data (read with the rest by `core.config`)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlops_template.core.errors import ConfigError


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


DURATION = re.compile(r"^([0-9]+(ms|s|m|h|d|w|y))+$")  # a Prometheus duration


def validate_live(m: MonitorParams, f: FeedbackParams, task: str | None) -> None:
    """Raise ConfigError naming the key when `monitor` or `feedback` is invalid (`task` is
    data.task, or None when inferred from the target)."""
    if m.metric not in ("accuracy", "mae"):
        raise ConfigError(f"params: monitor.metric must be accuracy or mae, not {m.metric!r}")
    needs = {"accuracy": "classification", "mae": "regression"}[m.metric]
    if task not in (None, needs):
        raise ConfigError(f"params: monitor.metric {m.metric} needs data.task {needs}")
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
    if f.mode not in ("append", "replace"):
        raise ConfigError(f"params: feedback.mode must be append or replace, not {f.mode!r}")
    if not isinstance(f.window_days, (int, float)) or f.window_days < 0:
        raise ConfigError(f"params: feedback.window_days must be >= 0, not {f.window_days!r}")
