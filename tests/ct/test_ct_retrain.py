"""The retrain job (`python -m mlops_template.ct.retrain`) for real — git, DVC, GTO, scikit-learn —
on a throw-away project whose data is an imported CSV (ct_project.py), with GitLab's API
replaced at the network boundary by the recording stand-in (standin.py) and GitLab's git
server by a bare repository."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.ct.alertmanager_payload import drift_payload
from tests.ct.ct_project import Project, make_project
from tests.support.shell import command_env, sh
from tests.support.gitlab_standin import StandIn, serve

pytestmark = pytest.mark.slow
TOKEN = "glpat-ct-test-token"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, ct_dvc_cache: Path) -> Project:
    return make_project(tmp_path_factory.mktemp("ct-project"), ct_dvc_cache)


@pytest.fixture(scope="module")
def standin() -> Iterator[StandIn]:
    with serve() as state:
        yield state


def retrain(
    project: Project, standin: StandIn, payload: Path, **extra: str
) -> subprocess.CompletedProcess[str]:
    variables = {
        # Local mode with pushing on: CI mode sends GITLAB_TOKEN only over https to a host in
        # ci/allowed-hosts, and this stand-in is plain http on 127.0.0.1 (tests/ci).
        "CI": "false",
        "RETRAIN_PUSH": "1",
        "CI_PIPELINE_SOURCE": "trigger",
        "TRIGGER_PAYLOAD": str(payload),  # a file path, like GitLab's file variable
        "CI_API_V4_URL": standin.api_url,
        "CI_PROJECT_ID": "42",
        "CI_PIPELINE_ID": "77",
        "CI_DEFAULT_BRANCH": "main",
        "GITLAB_TOKEN": TOKEN,
        "RETRAIN_PUSH_URL": str(project.origin),
        **extra,
    }
    return subprocess.run(
        [sys.executable, "-m", "mlops_template.ct.retrain"],
        cwd=project.work,
        env=command_env(**variables),
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


def test_retrain_opens_one_mr_only_when_data_changed(
    project: Project, standin: StandIn, tmp_path: Path
) -> None:
    payload = tmp_path / "TRIGGER_PAYLOAD"
    payload.write_text(json.dumps(drift_payload({"mean_radius": 0.38, "worst_area": 0.91})))

    # 1. Upstream data unchanged: retrained model == committed one, so no branch and no MR.
    done = retrain(project, standin, payload)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no change: data and model are as committed" in done.stdout
    assert standin.merge_requests() == []

    # 2. New upstream rows. A dry run (what `make retrain` does locally) retrains and writes
    # the description, but pushes nothing and opens no MR.
    project.drift_upstream()
    done = retrain(project, standin, payload, RETRAIN_PUSH="0")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "dry run (RETRAIN_PUSH=0): would open 'Retrain model (drift in" in done.stdout
    assert "Drifted: worst_area" in (project.work / "retrain.md").read_text()
    assert standin.merge_requests() == [] and standin.uploads() == []
    assert "retrain/" not in sh("git", "branch", "--all", cwd=project.work)

    # 3. The real run: dvc update → new data → new model → branch, push, merge request.
    done = retrain(project, standin, payload)
    assert done.returncode == 0, done.stdout + done.stderr
    assert TOKEN not in done.stdout + done.stderr
    (mr,) = standin.merge_requests()
    assert mr.path == "/api/v4/projects/42/merge_requests"
    assert mr.headers["private-token"] == TOKEN
    body = mr.json()
    assert body["target_branch"] == "main" and body["labels"] == "retrain"
    assert body["source_branch"].startswith("retrain/") and body["source_branch"].endswith("-77")
    text = body["description"]
    assert "Started by **alert FeatureDrift (firing)**" in text
    assert "Drifted: worst_area (PSI 0.910), mean_radius (PSI 0.380)." in text
    assert "Production: model@\u200bv0.0.1 — both scored on this branch's test split." in text
    assert "Quality gate: PASS" in text
    assert "`dvc update data/source.csv.dvc`" in text
    assert "| mean_radius |" in text and "DRIFT |" in text  # refreshed data vs prod reference
    # The report's plots are uploaded to the project and shown inline, not left as local paths.
    uploads = [u.body for u in standin.uploads()]
    assert uploads and all(b"\x89PNG" in body for body in uploads)
    assert text.count("](/uploads/") == len(uploads) and "](./" not in text

    # The branch is on the "GitLab" remote with the new data and lock; the objects in DVC.
    branch = body["source_branch"]
    files = sh("git", "diff", "--name-only", "main", branch, cwd=project.origin).split()
    assert {"dvc.lock", "data/source.csv.dvc", "reports/metrics.json"} <= set(files)
    assert "Use `dvc push`" not in sh("dvc", "status", "--cloud", cwd=project.work)

    # 4. That MR is open now: the next trigger stops before doing any work.
    standin.open_mrs = [{"iid": 1, "labels": ["retrain"]}]
    done = retrain(project, standin, payload)
    assert done.returncode == 0
    assert "skipped: merge request !1 with label 'retrain' is still open" in done.stdout
    assert "dvc repro" not in done.stdout
    assert len(standin.merge_requests()) == 1
