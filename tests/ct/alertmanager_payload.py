"""An Alertmanager 0.25 webhook body (version 4) as the retrain receiver sends it."""

from __future__ import annotations

from typing import Any


def drift_payload(features: dict[str, float], status: str = "firing") -> dict[str, Any]:
    """One FeatureDrift alert per feature, grouped by (action, job) like the committed routing."""
    alerts = [
        {
            "status": status,
            "labels": {
                "alertname": "FeatureDrift",
                "action": "retrain",
                "feature": name,
                "job": "api",
                "severity": "warning",
            },
            "annotations": {
                "summary": f"Feature {name} drifted: PSI {psi:.3f} over 15m",
                "feature": name,
                "psi": f"{psi:.4f}",
            },
            "startsAt": "2026-11-27T02:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": f"{abs(hash(name)):016x}"[:16],
        }
        for name, psi in features.items()
    ]
    return {
        "version": "4",
        "groupKey": '{}/{action="retrain"}:{action="retrain", job="api"}',
        "truncatedAlerts": 0,
        "status": status,
        "receiver": "retrain",
        "groupLabels": {"action": "retrain", "job": "api"},
        "commonLabels": {"action": "retrain", "alertname": "FeatureDrift", "job": "api"},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def quality_payload(value: float, version: str = "a7976a471756") -> dict[str, Any]:
    """One ModelQualityDrop alert as the generated rule (mlops_template.ct.quality_rules) sends
    it, in the same retrain group as drift."""
    body = drift_payload({})
    body["alerts"] = [
        {
            "status": "firing",
            "labels": {
                "alertname": "ModelQualityDrop",
                "action": "retrain",
                "reason": "quality",
                "version": version,
                "job": "api",
                "severity": "warning",
            },
            "annotations": {
                "summary": f"Model {version}: accuracy {value:.3f} on the labels of the last 1h",
                "metric": "accuracy",
                "value": f"{value:.4f}",
                "floor": "0.85",
                "version": version,
            },
            "startsAt": "2026-11-27T02:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus/graph",
            "fingerprint": "00000000000000aa",
        }
    ]
    body["commonLabels"] = {"action": "retrain", "alertname": "ModelQualityDrop", "job": "api"}
    return body
