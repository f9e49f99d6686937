"""Why the retrain job runs: the Alertmanager webhook body GitLab hands over as TRIGGER_PAYLOAD.

GitLab's webhook trigger (`POST /projects/:id/ref/:ref/trigger/pipeline?token=…`) stores the
request body in a *file* variable, so TRIGGER_PAYLOAD is normally a path; a JSON string is
accepted too (gitlab-ci-local `--variable`, manual runs).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class PayloadError(ValueError):
    """TRIGGER_PAYLOAD is not a readable Alertmanager webhook body."""


@dataclass(frozen=True)
class Alert:
    name: str
    status: str
    feature: str  # "" when the alert names no feature
    psi: float | None
    summary: str
    starts_at: str
    # ModelQualityDrop (reason="quality"): the live metric, its value, the floor, the version
    metric: str = ""
    value: float | None = None
    floor: float | None = None
    version: str = ""

    @property
    def quality(self) -> bool:
        return bool(self.metric)


@dataclass(frozen=True)
class Reason:
    """What started the job, for the log and the merge request description."""

    source: str  # CI_PIPELINE_SOURCE: trigger, schedule, web, …
    status: str = ""  # the webhook's group status: firing | resolved
    alerts: tuple[Alert, ...] = field(default_factory=tuple)

    @property
    def firing(self) -> list[Alert]:
        return [a for a in self.alerts if a.status == "firing"]

    @property
    def quality(self) -> list[Alert]:
        """Firing alerts about the model's live quality (labels from /feedback)."""
        return [a for a in self.firing if a.quality]

    @property
    def drifted(self) -> dict[str, float | None]:
        """Feature (or "prediction") → the highest PSI any firing alert reported for it."""
        out: dict[str, float | None] = {}
        for alert in self.firing:
            if not alert.feature:
                continue
            old = out.get(alert.feature)
            out[alert.feature] = alert.psi if old is None else max(old, alert.psi or old)
        return out

    def headline(self) -> str:
        if self.source == "schedule":
            return "scheduled retraining"
        if not self.alerts:
            return f"retraining started by a {self.source or 'manual'} pipeline"
        names = sorted({a.name for a in self.firing}) or sorted({a.name for a in self.alerts})
        return f"alert {', '.join(names)} ({self.status or 'firing'})"


def _psi(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse(body: dict[str, Any], source: str = "trigger") -> Reason:
    """Reason from an Alertmanager webhook body (version 4)."""
    raw_alerts = body.get("alerts")
    if not isinstance(raw_alerts, list):
        raise PayloadError("TRIGGER_PAYLOAD has no 'alerts' list; is it an Alertmanager webhook?")
    alerts = []
    for raw in raw_alerts:
        labels = raw.get("labels", {}) or {}
        notes = raw.get("annotations", {}) or {}
        alerts.append(
            Alert(
                name=str(labels.get("alertname", "")),
                status=str(raw.get("status", body.get("status", ""))),
                feature=str(labels.get("feature") or notes.get("feature") or ""),
                psi=_psi(notes.get("psi")),
                summary=str(notes.get("summary", "")),
                starts_at=str(raw.get("startsAt", "")),
                metric=str(notes.get("metric", "")) if labels.get("reason") == "quality" else "",
                value=_psi(notes.get("value")),
                floor=_psi(notes.get("floor")),
                version=str(labels.get("version", "")),
            )
        )
    return Reason(source=source, status=str(body.get("status", "")), alerts=tuple(alerts))


def load(value: str | None, source: str) -> Reason:
    """Reason from the TRIGGER_PAYLOAD variable (a file path or JSON text) and the source."""
    if not value:
        return Reason(source=source)
    path = Path(value)
    text = value
    if not value.lstrip().startswith("{"):
        try:
            text = path.read_text()
        except OSError as exc:
            raise PayloadError(f"TRIGGER_PAYLOAD file {value} can't be read: {exc}") from exc
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PayloadError(f"TRIGGER_PAYLOAD is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise PayloadError("TRIGGER_PAYLOAD is JSON but not an object")
    return parse(body, source)
