"""A ModelQualityDrop payload: the retrain job reads reason "quality" and says so in the MR."""

from __future__ import annotations

import json

from tests.ct.alertmanager_payload import drift_payload, quality_payload

from mlops_template.ct import describe, payload
from mlops_template.ct.compare import Comparison


def text(reason: payload.Reason) -> str:
    return describe.description(
        reason,
        Comparison(new={"f1": 0.9}),
        metric="f1",
        gate="PASS",
        data_note="x",
        changed=[],
        drift_md="",
        report_md="",
        pipeline_url="",
    )


def test_a_quality_alert_is_reason_quality_in_title_and_description() -> None:
    reason = payload.load(json.dumps(quality_payload(0.6)), "trigger")
    (alert,) = reason.quality
    assert (alert.metric, alert.value, alert.floor, alert.version) == (
        "accuracy",
        0.6,
        0.85,
        "a7976a471756",
    )
    assert reason.drifted == {}
    assert describe.title(reason, "v2") == "Retrain model (quality: accuracy 0.600): v2"
    body = text(reason)
    assert "Reason: **quality**" in body
    assert "| ModelQualityDrop | firing | a7976a471756 | accuracy | 0.6000 | 0.85 |" in body
    assert "| alert | status | feature |" not in body  # no drift table


def test_quality_and_drift_in_one_group_are_both_named() -> None:
    body = drift_payload({"mean_radius": 0.5})
    body["alerts"] += quality_payload(0.5)["alerts"]
    reason = payload.parse(body)
    assert describe.title(reason, "v2").startswith("Retrain model (quality: accuracy 0.500; drift")
    description = text(reason)
    assert "Reason: **quality**" in description and "| firing | mean_radius |" in description


def test_a_hostile_version_label_cannot_break_the_table_or_ping_people() -> None:
    reason = payload.parse(quality_payload(0.5, version="x | @all\n/close `y`"))
    description = text(reason)
    row = next(line for line in description.splitlines() if line.startswith("| ModelQ"))
    assert row.count(" | ") == 6  # seven cells, none split by the label's pipe
    assert "@all" not in row.replace("\\@all", "") and "\n/close" not in description


def test_a_drift_alert_with_a_metric_annotation_but_no_quality_reason_is_drift() -> None:
    body = drift_payload({"mean_radius": 0.5})
    body["alerts"][0]["annotations"]["metric"] = "accuracy"
    assert payload.parse(body).quality == []
