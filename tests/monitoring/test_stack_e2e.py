"""End to end: the real API (gunicorn, 2 uvicorn workers, multiprocess metrics) scraped by a
real Prometheus running the committed config (targets rewritten to 127.0.0.1, 1 s intervals)
and the committed rules (drift window 15m → 1m and the drift alerts' `for` 10m → 2s, so the
test takes a minute, not half an hour). Nothing is mocked."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from tests.support.fixtures import StartApi, StartPrometheus
from tests.support.monitoring import DASHBOARDS
from tests.support.net import http_json, wait_until
from tests.support.traffic import Feeder, records, send
from tests.monitoring.promql import panel_exprs

pytestmark = pytest.mark.slow

# Panels that only make sense for the other task: Prometheus answers them (the histogram
# exists, empty) but with NaN.
OTHER_TASK = {
    "classification": ("model_prediction_value",),
    "regression": ("model_prediction_confidence",),
}
# The live quality of the other task has no series at all (its recording rule matches none).
OTHER_QUALITY = {
    "classification": "model_feedback_mae",
    "regression": "model_feedback_accuracy",
}
# Series that exist only once the server sheds or drops a request (tests/api/test_overload*.py
# make them): here, without overload, Prometheus must accept the query and may answer nothing.
ONLY_UNDER_OVERLOAD = ("model_requests_rejected_total", "model_requests_expired_total")


def test_every_dashboard_query_answers_and_drift_alert_fires_only_on_drift(
    model_dir: Path, start_api: StartApi, start_prometheus: StartPrometheus
) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    features = {f["name"] for f in card["features"]}
    api = start_api(model_dir, workers=2)
    prometheus = start_prometheus(
        [api.address], drift_window="1m", alert_for={"FeatureDrift": "2s", "PredictionDrift": "2s"}
    )
    prometheus.wait_up("api")

    # Traffic like training, plus rejected requests. Series created by the first request
    # (per route/status, per rejection reason) must be scraped once before more traffic,
    # or rate() can't see their first increase.
    rows = records(card, 600, seed=1)
    sent = len(rows)
    bad = {"records": [{"no_such_feature": 1}]}
    send(api.url, rows[:50])
    assert http_json(f"{api.url}/predict", bad)[0] == 422
    forged = {"feedback": [{"id": "not-an-id", "label": "x"}]}
    assert http_json(f"{api.url}/feedback", forged)[1]["accepted"] == 0
    for series in (
        'http_requests_total{route="/predict"}',
        "model_input_validation_errors_total",
        "model_feedback_refused_total",
    ):
        wait_until(lambda: prometheus.query(series), 20, f"first scrape of {series}")
    answers = send(api.url, rows[50:])
    assert http_json(f"{api.url}/predict", bad)[0] == 422
    # Labels for some predictions (the quality panels), sent to /feedback.
    served = [p for answer in answers for p in answer["predictions"]][:100]
    labels = [{"id": p["id"], "label": p["prediction"]} for p in served]
    assert http_json(f"{api.url}/feedback", {"feedback": labels})[1]["accepted"] == 100
    assert http_json(f"{api.url}/feedback", forged)[1]["accepted"] == 0

    # Counters from both workers are merged: every predicted row is counted exactly once.
    total = 'sum(model_predictions_total{job="api"})'
    wait_until(lambda: prometheus.value(total) == sent, 20, f"{total} == {sent}")

    # From here on the checks read the drift rules' 1m window: a feeder keeps it full of
    # training-like traffic however long the checks take (a one-off send slides out of the
    # window on a loaded machine, and PSI over what is left of it is noise, or NaN).
    with Feeder(api.url, records(card, 2000, seed=3)):
        # Every dashboard query has data (rates need two scrapes after the traffic).
        exprs = [(d.name, title, expr) for d in DASHBOARDS for title, expr in panel_exprs(d)]
        for dashboard, title, expr in exprs:

            def answered(expr: str = expr) -> bool:
                values = [float(r["value"][1]) for r in prometheus.query(expr)]
                if OTHER_QUALITY[card["task"]] in expr:
                    return True
                if any(name in expr for name in ONLY_UNDER_OVERLOAD):
                    return True  # the query was accepted (query() fails on an error)
                if any(name in expr for name in OTHER_TASK[card["task"]]):
                    return bool(values)
                return any(math.isfinite(v) for v in values)

            wait_until(answered, 30, f"data for panel {title!r} of {dashboard}: {expr}")

        # PSI per feature is computed for every feature, low, and no drift alert after several
        # evaluations (the alert's `for` is 2 s, evaluation every 1 s). Recording rules run up
        # to one evaluation interval after the scrape: wait until the window holds at least
        # as many rows as the first traffic (the PSI of a few rows alone is noise).
        counted = f"job_feature:model_feature_bin:increase15m >= {sent - 50}"
        wait_until(lambda: len(prometheus.query(counted)) == len(features), 30, counted)
        psi = "job_feature:model_feature_psi:15m"
        quiet_until = time.monotonic() + 5
        while time.monotonic() < quiet_until:
            values = {r["metric"]["feature"]: float(r["value"][1]) for r in prometheus.query(psi)}
            assert max(values.values()) < 0.2, f"PSI of training-like traffic: {values}"
            assert not prometheus.alerts("FeatureDrift"), prometheus.alerts("FeatureDrift")
            assert not prometheus.alerts("PredictionDrift"), prometheus.alerts("PredictionDrift")
            time.sleep(0.5)

    # Drifted traffic: every feature beyond its training range, fed until every feature's
    # alert fires (the alerts need PSI > 0.2 over the window for 2 s).
    with Feeder(api.url, records(card, 1500, drifted=True, seed=2), batch=50):
        wait_until(lambda: prometheus.alerts("FeatureDrift", "firing"), 60, "FeatureDrift firing")
        wait_until(
            lambda: len(prometheus.alerts("FeatureDrift", "firing")) == len(features),
            30,
            "FeatureDrift firing for every feature",
        )
        firing = prometheus.alerts("FeatureDrift", "firing")
    assert {a["labels"]["feature"] for a in firing} == features
    for alert in firing:
        assert alert["labels"]["action"] == "retrain"
        assert alert["annotations"]["feature"] == alert["labels"]["feature"]
        assert float(alert["annotations"]["psi"]) > 0.2
