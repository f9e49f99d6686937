"""The continuous-training loop end to end, with real parts:

the API (gunicorn + uvicorn workers) serving the production model of a throw-away project
(ct_project.py) → a real Prometheus with the committed config and rules → a real
Alertmanager with the committed routing, rendered with GITLAB_URL pointing at a local
stand-in that records requests (standin.py: it replaces GitLab's server at the network
boundary, as GitLab can't run here) → the trigger request → the `retrain` job of
.gitlab-ci.yml under gitlab-ci-local (shell executor, shell isolation) with
CI_PIPELINE_SOURCE=trigger and the recorded payload → a new model on a pushed branch and
the merge request body, sent to the same stand-in.

Shortened so the test takes minutes, not an hour (the committed values are in brackets):
scrape and rule evaluation every 1 s [15 s], drift window 1m [15m], the drift alerts' `for`
5s [10m], the retrain route's group_wait 5s [1m]; group_interval and repeat_interval stay
as committed (24h), which is what keeps one drift episode to one trigger.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from tests.ct.ct_project import SHIFTED, Project, make_project, run_retrain_job
from tests.support.shell import sh
from tests.support.net import http_json, wait_until
from tests.support.shell import require_tool
from tests.support.gitlab_standin import StandIn

from mlops_template.stages import datasets
from mlops_template.ct import payload as trigger_payload

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]
log = logging.getLogger(__name__)

PROJECT_ID, REF, TRIGGER_TOKEN, GITLAB_TOKEN = "42", "main", "trigger-token-test", "glpat-test"
INTERVAL, WINDOW, ALERT_FOR, GROUP_WAIT = "1s", "1m", "5s", "5s"
BOUND_S = 60 + 5 + 5 + 30  # window + for + group_wait + 30 s: the aim
TRAFFIC_SHIFT = {name: 1.6 for name in SHIFTED}  # stronger than the data shift: live traffic


def rows(n: int, seed: int, shift: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """`n` requests' records drawn from the bundled data set (like training), optionally with
    some features scaled (an upstream change in units or population)."""
    frame = datasets.read("breast_cancer").drop(columns=["diagnosis"])
    frame = frame.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    for column, factor in (shift or {}).items():
        frame[column] = frame[column] * factor
    records: list[dict[str, Any]] = frame.to_dict(orient="records")
    return records


def send(api_url: str, records: list[dict[str, Any]], batch: int = 50) -> None:
    for start in range(0, len(records), batch):
        status, body = http_json(f"{api_url}/predict", {"records": records[start : start + batch]})
        assert status == 200, f"/predict answered {status}: {body}"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, ct_dvc_cache: Path) -> Project:
    return make_project(tmp_path_factory.mktemp("ct-loop"), ct_dvc_cache)


def test_drift_triggers_one_pipeline_whose_retrain_job_opens_a_merge_request(
    project: Project,
    gitlab_standin: StandIn,
    start_api: Any,
    start_prometheus: Any,
    start_alertmanager: Any,
    record_property: Any,
) -> None:
    require_tool("gitlab-ci-local")
    standin = gitlab_standin
    api = start_api(project.work / "model", workers=2)
    alertmanager = start_alertmanager(
        {
            "GITLAB_URL": standin.url,
            "PROJECT_ID": PROJECT_ID,
            "REF": REF,
            "TRIGGER_TOKEN": TRIGGER_TOKEN,
        },
        route_overrides={"group_wait": GROUP_WAIT},
    )
    prometheus = start_prometheus(
        [api.address],
        alertmanager=alertmanager.address,
        interval=INTERVAL,
        drift_window=WINDOW,
        alert_for={"FeatureDrift": ALERT_FOR, "PredictionDrift": ALERT_FOR},
    )
    prometheus.wait_up("api")

    # Normal traffic: PSI is computed for every feature, stays low, and nothing is triggered
    # for longer than `for` + group_wait + a few evaluations.
    send(api.url, rows(800, seed=1))
    psi = "job_feature:model_feature_psi:15m"
    wait_until(lambda: len(prometheus.query(psi)) == 30, 30, f"{psi} for every feature")
    quiet_until = time.monotonic() + 15
    while time.monotonic() < quiet_until:
        values = {r["metric"]["feature"]: float(r["value"][1]) for r in prometheus.query(psi)}
        assert max(values.values()) < 0.2, values
        time.sleep(1)
    assert standin.triggers() == []

    # Drifted traffic: the clock starts at the first drifted request.
    first_drifted = time.time()
    send(api.url, rows(1000, seed=2, shift=TRAFFIC_SHIFT))
    # Not a speed assertion: the wait is bounded by the intervals above (the aim).
    (trigger,) = wait_until(standin.triggers, BOUND_S, "the GitLab pipeline trigger")
    seconds = trigger.at - first_drifted
    record_property("alert_to_trigger_seconds", round(seconds, 1))
    log.warning(
        "first drifted request → trigger request: %.1f s (scrape/eval %s, window %s, for %s, "
        "group_wait %s)",
        seconds,
        INTERVAL,
        WINDOW,
        ALERT_FOR,
        GROUP_WAIT,
    )

    # One drift episode, one pipeline: more features may start firing (the window fills up),
    # and several evaluations and another group_wait later there is still only one trigger.
    time.sleep(12)
    assert len(standin.triggers()) == 1
    assert trigger.path == f"/api/v4/projects/{PROJECT_ID}/ref/{REF}/trigger/pipeline"
    assert trigger.query == {"token": TRIGGER_TOKEN}
    body = trigger.json()
    assert body["receiver"] == "retrain" and body["status"] == "firing"
    reason = trigger_payload.parse(body)
    assert set(reason.drifted) & set(SHIFTED), reason.drifted
    assert all(v is not None and v > 0.2 for v in reason.drifted.values()), reason.drifted
    assert all(a.name in ("FeatureDrift", "PredictionDrift") for a in reason.alerts)

    # The triggered pipeline's retrain job, with that payload, on new upstream data.
    project.drift_upstream()
    job_log = run_retrain_job(
        project,
        {
            "CI_PIPELINE_SOURCE": "trigger",
            "TRIGGER_PAYLOAD": trigger.body.decode(),
            "CI_API_V4_URL": standin.api_url,
            "CI_PROJECT_ID": PROJECT_ID,
            "GITLAB_TOKEN": GITLAB_TOKEN,
            "RETRAIN_PUSH_URL": str(project.origin),
        },
    )
    assert "PASS  retrain" in job_log, job_log[-3000:]
    assert GITLAB_TOKEN not in job_log
    (mr,) = standin.merge_requests()
    assert mr.headers["private-token"] == GITLAB_TOKEN
    request = mr.json()
    assert request["target_branch"] == REF and request["labels"] == "retrain"
    text = request["description"]
    for name in reason.drifted:
        assert f"| firing | {name} |" in text
    assert "Production: model@\u200bv0.0.1" in text and "Quality gate: PASS" in text
    (Path(project.work).parent / "merge_request.json").write_text(json.dumps(request, indent=2))

    # The new model is on the pushed branch: another model version than production's.
    branch = request["source_branch"]
    lock_main = sh("git", "show", "main:dvc.lock", cwd=project.origin)
    lock_branch = sh("git", "show", f"{branch}:dvc.lock", cwd=project.origin)
    assert lock_main != lock_branch
    assert request["title"].startswith("Retrain model (drift in ")
