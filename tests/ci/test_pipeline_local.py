"""The merge-request pipeline of `.gitlab-ci.yml`, run for real by gitlab-ci-local.

A temporary clone (origin with `main` = this checkout, branch `feature` changing one param)
runs the lint, test, train, gate and report jobs in the shell (`--force-shell-executor`), each
in its own copy of the repo (`--shell-isolation`), with artifacts passed between jobs by
gitlab-ci-local only (`--no-artifacts-to-source`). The jobs reuse this checkout's .venv
(CI_REUSE_VENV, see ci/setup.sh) instead of installing it per job; a real runner installs
from the pip cache. The inner test job runs the fast schema tests only, and never these
`pipeline`-marked tests (PYTEST_MARKERS), so the suite doesn't recurse.

What can't run here and replaces it:
- `report:comment` (CML posting the report to the MR): CML's npm package is unreachable from
  this machine and GitLab's API doesn't exist here. Without REPO_TOKEN (as in a fork's MR) the
  job says so and passes, which is what runs here; the test checks the exact file it would
  post (report/report.md + PNGs).
- `sast` and `dependency-scan` are skipped with GitLab's own switches (SAST_DISABLED,
  DEPENDENCY_SCANNING_DISABLED): `sast` runs GitLab's Semgrep analyzer, which exists only in its
  image (no registry can be reached from here), and `dependency-scan` (pip-audit) asks PyPI's
  vulnerability data over the internet. Their definitions are checked against GitLab's schema
  (test_gitlab_ci_schema.py); `secret-detection` runs for real.
- workflow:rules: gitlab-ci-local doesn't apply them; the MR simulation variables
  (CI_PIPELINE_SOURCE=merge_request_event, no CI_COMMIT_BRANCH) drive the job rules instead.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.repo import commit_all, feature_params, make_mr_repo, set_params
from tests.support.shell import VENV, command_env, require_tool

pytestmark = [pytest.mark.slow, pytest.mark.pipeline]

MR_JOBS = ["lint", "secret-detection", "test", "train", "gate", "report", "report:comment"]
FLAGS = [
    "--force-shell-executor",
    "--shell-isolation",
    "--no-artifacts-to-source",
    "--ignore-predefined-vars",
    "CI_PIPELINE_SOURCE,CI_MERGE_REQUEST_TARGET_BRANCH_NAME,CI_MERGE_REQUEST_IID",
]
MR_VARIABLES = [
    "--variable=CI_PIPELINE_SOURCE=merge_request_event",
    "--unset-variable=CI_COMMIT_BRANCH",
    "--variable=CI_MERGE_REQUEST_TARGET_BRANCH_NAME=main",
    "--variable=CI_MERGE_REQUEST_IID=1",
    f"--variable=CI_REUSE_VENV={VENV}",
    "--variable=PYTEST_ARGS=tests/ci/test_gitlab_ci_schema.py",
    "--variable=SAST_DISABLED=true",
    "--variable=DEPENDENCY_SCANNING_DISABLED=true",
]


@dataclass(frozen=True)
class Run:
    repo: Path
    returncode: int
    output: str

    def started(self) -> list[str]:
        """Jobs in the order they started."""
        return re.findall(r"^(\S+)\s+starting shell", self.output, flags=re.MULTILINE)

    def artifact(self, job: str, path: str) -> Path:
        return self.repo / ".gitlab-ci-local" / "artifacts" / job / path


def gitlab_ci_local(repo: Path, *args: str) -> Run:
    require_tool("gitlab-ci-local")
    require_tool("rsync")
    # Keep the outer run's coverage hooks out of the inner pytest.
    env = {key: value for key, value in command_env().items() if not key.startswith("COV_CORE_")}
    result = subprocess.run(
        ["gitlab-ci-local", *FLAGS, *MR_VARIABLES, *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1500,
        check=False,
    )
    return Run(repo, result.returncode, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def mr_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    repo = make_mr_repo(tmp_path_factory.mktemp("gcl"), feature_params())
    return gitlab_ci_local(repo)


def test_mr_pipeline_runs_the_jobs_in_order(mr_run: Run) -> None:
    assert mr_run.returncode == 0, mr_run.output[-6000:]
    started = mr_run.started()
    assert sorted(started) == sorted(MR_JOBS), mr_run.output[-3000:]
    # Stage order (jobs of one stage, lint and secret-detection, may start in either order).
    core = [job for job in started if job in ("lint", "test", "train", "gate", "report")]
    assert core == ["lint", "test", "train", "gate", "report"]
    assert started.index("report:comment") > started.index("report")
    for job in MR_JOBS:
        assert re.search(rf"PASS\s+(\[[^]]*\]\s+)?{re.escape(job)}\b", mr_run.output), job
    assert "no REPO_TOKEN in this pipeline: no MR comment" in mr_run.output
    # Default-branch, tag and disabled jobs stay out of a merge-request pipeline.
    for job in ("register", "build", "deploy", "sast", "dependency-scan", "sbom", "sign"):
        assert f"{job} starting" not in mr_run.output


def test_train_artifacts_reach_the_gate_and_the_report(mr_run: Run) -> None:
    metrics = json.loads(mr_run.artifact("train", "reports/metrics.json").read_text())
    assert mr_run.artifact("train", "model/model.skops").stat().st_size > 0
    card = json.loads(mr_run.artifact("train", "model/model_card.json").read_text())
    # The MR's params, trained for real:
    assert card["params"]["train"] == {**card["params"]["train"], **feature_params()["train"]}
    assert re.search(rf"gate\s+> PASS: f1 = {metrics['f1']:.4f} .*baseline", mr_run.output)

    report_dir = mr_run.artifact("report", "report")
    report = (report_dir / "report.md").read_text()
    f1_row = re.search(
        r"\|\s*reports/metrics\.json\s*\|\s*f1\s*\|\s*([\d.]+)\s*\|\s*([\d.]+)", report
    )
    assert f1_row is not None, report[:2000]
    assert float(f1_row.group(2)) == pytest.approx(metrics["f1"], abs=1e-5)
    assert "train.learning_rate" in report.split("## Params changed")[1]
    pictures = re.findall(r"!\[[^\]]+\]\(\./([^)]+\.png)\)", report)
    assert len(pictures) >= 4
    for name in pictures:
        assert (report_dir / name).read_bytes().startswith(b"\x89PNG"), name


def test_a_failing_job_fails_the_pipeline(mr_run: Run) -> None:
    """Raise gate.min above what the model reaches: the gate job (fed the train artifacts of
    the run above) fails, and so does gitlab-ci-local, so `make test` would fail."""
    set_params(mr_run.repo, gate={"min": 0.9999})
    commit_all(mr_run.repo, "feature: impossible gate")
    failed = gitlab_ci_local(mr_run.repo, "gate")
    assert failed.returncode != 0
    assert re.search(r"gate\s+> FAIL: f1 = [\d.]+ is worse than gate.min min 0.9999", failed.output)
    assert re.search(r"FAIL\s+(\[[^]]*\]\s+)?gate", failed.output)
