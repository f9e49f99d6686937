"""promtool unit tests for the generated quality rules, generated with them from params.yaml.

monitoring/prometheus/tests/quality_test.yml shows ModelQualityDrop firing for the committed
`monitor` values (two replicas whose labels only together reach `min_labels`), and quiet when
quality is on the right side of the floor or when there are too few labels. `make
monitor-rules` writes it next to the rules, so changing params.yaml can't leave them apart.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlops_template.core.live_params import MonitorParams
from mlops_template.ct import quality_rules as q

UNITS = {"ms": 1 / 60000, "s": 1 / 60, "m": 1, "h": 60, "d": 1440, "w": 10080, "y": 525600}


def minutes(duration: str) -> float:
    return sum(float(n) * UNITS[u] for n, u in re.findall(r"([0-9]+)(ms|s|m|h|d|w|y)", duration))


def _series(name: str, labels: str, per_minute: float, span: int) -> dict[str, str]:
    return {"series": f"{name}{{{labels}}}", "values": f"0+{per_minute:g}x{span}"}


def _pod(pod: str, version: str = "v1") -> str:
    return f'namespace="prod", job="api", pod="{pod}", version="{version}"'


def _inputs(m: MonitorParams, good: float, per_pod: int, pods: int, span: int) -> list[Any]:
    """Label series of `pods` replicas, `per_pod` labels a minute each, quality `good`."""
    out = []
    for p in range(pods):
        labels = _pod(f"api-{p}")
        if m.metric == "accuracy":
            correct = good * per_pod
            name = "model_feedback_labels_total"
            out.append(_series(name, labels + ', outcome="correct"', correct, span))
            out.append(_series(name, labels + ', outcome="wrong"', per_pod - correct, span))
        else:
            out.append(
                _series("model_feedback_labels_total", labels + ', outcome="scored"', per_pod, span)
            )
            out.append(_series("model_feedback_absolute_error_count", labels, per_pod, span))
            out.append(_series("model_feedback_absolute_error_sum", labels, per_pod * good, span))
    return out


def document(m: MonitorParams) -> dict[str, Any]:
    window = max(minutes(m.window), 1.0)
    wait = minutes(m.alert_after)
    eval_at = math.ceil(window + wait) + 5
    span = eval_at + 5
    # Labels a minute per replica: two replicas together reach min_labels in the window.
    per_pod = 2 * max(1, math.ceil(m.min_labels / (2 * window)) + 1)
    if m.metric == "accuracy":
        bad, good = math.floor(m.floor * per_pod * 0.5) / per_pod, 1.0  # half the floor
    else:
        bad, good = m.floor * 2, m.floor / 2
    value = bad
    annotations = q.alert(m)["annotations"]
    expected = {
        **annotations,
        "summary": annotations["summary"]
        .replace("{{ $labels.version }}", "v1")
        .replace('{{ $value | printf "%.3f" }}', f"{value:.3f}"),
        "value": f"{value:.4f}",
        "version": "v1",
    }
    labels = {**q.alert(m)["labels"], "namespace": "prod", "job": "api", "version": "v1"}
    name = q.ALERT
    cases = [
        {
            "name": f"{name} fires when {m.metric} over two replicas is past the floor",
            "interval": "1m",
            "input_series": _inputs(m, bad, per_pod, 2, span),
            "alert_rule_test": [
                {
                    "eval_time": f"{eval_at}m",
                    "alertname": name,
                    "exp_alerts": [{"exp_labels": labels, "exp_annotations": expected}],
                },
            ],
        },
        {
            "name": f"{name} stays quiet while {m.metric} is on the right side of the floor",
            "interval": "1m",
            "input_series": _inputs(m, good, per_pod, 2, span),
            "alert_rule_test": [{"eval_time": f"{eval_at}m", "alertname": name, "exp_alerts": []}],
        },
    ]
    few = math.floor((m.min_labels - 1) / window)
    if few >= 2:  # below min_labels: one replica with fewer labels than the floor needs
        cases.append(
            {
                "name": f"{name} stays quiet with fewer than {m.min_labels} labels in the window",
                "interval": "1m",
                "input_series": _inputs(
                    m, bad if m.metric == "mae" else 0.0, few // 2 * 2, 1, span
                ),
                "alert_rule_test": [
                    {"eval_time": f"{eval_at}m", "alertname": name, "exp_alerts": []}
                ],
            }
        )
    return {"rule_files": ["../rules/quality.yml"], "evaluation_interval": "1m", "tests": cases}
