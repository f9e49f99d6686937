"""TRIGGER_PAYLOAD parsing and the merge request text built from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.ct.alertmanager_payload import drift_payload

from mlops_template.ct import describe, payload
from mlops_template.ct.compare import Comparison


def test_feature_psi_and_alert_are_read_from_a_payload_file(tmp_path: Path) -> None:
    path = tmp_path / "TRIGGER_PAYLOAD"
    path.write_text(json.dumps(drift_payload({"mean_radius": 0.41, "worst_area": 1.2})))
    reason = payload.load(str(path), "trigger")
    assert reason.source == "trigger" and reason.status == "firing"
    assert reason.drifted == {"mean_radius": 0.41, "worst_area": 1.2}
    assert reason.headline() == "alert FeatureDrift (firing)"


def test_json_text_is_accepted_and_resolved_alerts_are_not_drift() -> None:
    text = json.dumps(drift_payload({"mean_radius": 0.3}, status="resolved"))
    reason = payload.load(text, "trigger")
    assert reason.alerts and not reason.firing and reason.drifted == {}


def test_schedule_without_payload() -> None:
    reason = payload.load("", "schedule")
    assert reason.alerts == () and reason.headline() == "scheduled retraining"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "not JSON"),
        ('{"status": "firing"}', "no 'alerts' list"),
        ("[1]", "not an object"),
    ],
)
def test_bad_payloads_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "payload"
    path.write_text(text)
    with pytest.raises(payload.PayloadError, match=message):
        payload.load(str(path), "trigger")


def test_missing_payload_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(payload.PayloadError, match="can't be read"):
        payload.load(str(tmp_path / "absent"), "trigger")


def test_description_says_which_alert_which_features_and_by_how_much() -> None:
    reason = payload.parse(drift_payload({"mean_radius": 0.41, "worst_area": 1.2}), "trigger")
    result = Comparison(
        new={"f1": 0.97, "log_loss": 0.07},
        prod={"f1": 0.95, "log_loss": 0.09},
        prod_ref="model@v0.0.1",
        method="both scored on this branch's test split",
    )
    text = describe.description(
        reason,
        result,
        metric="f1",
        gate="PASS: f1 = 0.9700",
        data_note="`dvc update data/source.csv.dvc`",
        changed=["dvc.lock", "data/source.csv.dvc"],
        drift_md="",
        report_md="",
        pipeline_url="https://gitlab.example.com/p/-/pipelines/7",
    )
    assert "Started by **alert FeatureDrift (firing)** in pipeline https://gitlab" in text
    assert "Drifted: worst_area (PSI 1.200), mean_radius (PSI 0.410)." in text
    assert "| **f1** | 0.9500 | 0.9700 | +0.0200 ✅ |" in text
    assert "| log_loss | 0.0900 | 0.0700 | -0.0200 |" in text
    assert "- data/source.csv.dvc" in text
    assert describe.title(reason, "abc") == "Retrain model (drift in mean_radius, worst_area): abc"
