"""The retrain job (ci/retrain.sh → make retrain) in CI mode, with a second host in play.

GitLab's server can't run here: a recording HTTPS stand-in on 127.0.0.1 (recorder.py, a
throw-away certificate) answers the API calls and serves the project's repository with the real
`git http-backend`; the project's committed ci/allowed-hosts names it, as a fork names its
GitLab. A second recording server plays the attacker's host that pipeline variables point
RETRAIN_PUSH_URL / CI_API_V4_URL at. Everything on our side (git, DVC, GTO, scikit-learn, the
report) runs for real in a copy of this checkout, behind recording git/curl shims.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.ci.recorder import gitlab, serve, Server, tls_files
from tests.support.repo import commit_all, copy_checkout, set_params
from tests.support.shell import ROOT, sh, VENV, venv_path
from tests.ci.shims import Shims, make_shims

pytestmark = pytest.mark.slow
TOKEN = "glpat-retrain-hosts-5e4d3c2b1a"  # pragma: allowlist secret (a fake)
LEAKS = [TOKEN, base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()]
ARTIFACTS = ["retrain.md", "retrain-report", "dvc.lock", "model/model_card.json", "reports"]


@dataclass(frozen=True)
class Job:
    work: Path  # the job's checkout
    gitlab: Server
    cert: Path
    shims: Shims


@pytest.fixture()
def job(tmp_path: Path) -> Iterator[Job]:
    cert, key = tls_files(tmp_path)
    git_root = tmp_path / "gitlab"
    bare = git_root / "group" / "project.git"
    with serve(gitlab(git_root), tls=(cert, key)) as standin:
        work = tmp_path / "work"
        work.mkdir()
        copy_checkout(work)
        (work / "ci" / "allowed-hosts").write_text(standin.url.removeprefix("https://") + "\n")
        sh("git", "init", "-q", "-b", "main", cwd=work)
        commit_all(work, "main, with the fork's allow-list")
        sh("git", "clone", "-q", "--bare", work, bare, cwd=tmp_path)
        sh("git", "remote", "add", "origin", f"{standin.url}/group/project.git", cwd=work)
        shims = make_shims(tmp_path / "shims", {"git": "", "curl": ""}, venv_path())
        yield Job(work, standin, cert, shims)


def run_job(job: Job, **variables: str) -> subprocess.CompletedProcess[str]:
    stamp = job.work.parent / "venv-stamp"
    stamp.touch()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GIT", "RETRAIN_"))}
    env = {
        **base,
        "CI": "true",
        "CI_PIPELINE_SOURCE": "schedule",
        "CI_PIPELINE_ID": "77",
        "CI_DEFAULT_BRANCH": "main",
        "CI_PROJECT_ID": "42",
        "CI_API_V4_URL": f"{job.gitlab.url}/api/v4",
        "RETRAIN_PUSH_URL": f"{job.gitlab.url}/group/project.git",
        "GITLAB_TOKEN": TOKEN,
        "GIT_SSL_CAINFO": str(job.cert),  # a self-managed GitLab's CA, for git
        "SSL_CERT_FILE": str(job.cert),  # ... and for Python
        "MAKEFLAGS": f"VENV={VENV} INSTALL_STAMP={stamp}",  # like ci/setup.sh's CI_REUSE_VENV
        "PATH": job.shims.path(venv_path()),
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",
        **variables,
    }
    return subprocess.run(
        [str(ROOT / "ci" / "retrain.sh")],
        cwd=job.work,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.mark.parametrize(
    ("scheme", "target"),
    [
        ("https", {"RETRAIN_PUSH_URL": "{evil}/group/project.git"}),
        ("http", {"CI_API_V4_URL": "{evil}/api/v4"}),
        ("https", {"RETRAIN_PUSH_URL": "{evil}/g/p.git", "CI_API_V4_URL": "{evil}/api/v4"}),
    ],
    ids=["push-url-https", "api-url-http", "both-https"],
)
def test_a_second_host_set_by_variables_is_refused_and_gets_no_token(
    job: Job, tmp_path: Path, scheme: str, target: dict[str, str]
) -> None:
    tls = tls_files(tmp_path) if scheme == "https" else None
    with serve(tls=tls) as evil:
        done = run_job(job, **{name: url.format(evil=evil.url) for name, url in target.items()})
        log = done.stdout + done.stderr
        assert done.returncode != 0
        assert any(f"retrain: refused to send GITLAB_TOKEN: {name}=" in log for name in target)
        assert evil.recorded() == []
    # Refused before any call: GitLab itself got no API call with the token either.
    assert job.gitlab.credentials() == []
    for leak in LEAKS:
        assert all(leak not in line for line in job.shims.argv())
        assert leak not in log


def files_under(root: Path, names: list[str]) -> dict[str, bytes]:
    found = {}
    for name in names:
        path = root / name
        for file in [path] if path.is_file() else sorted(path.rglob("*")):
            if file.is_file():
                found[str(file.relative_to(root))] = file.read_bytes()
    return found


def test_a_traced_run_leaves_no_token_in_logs_or_artifacts(job: Job) -> None:
    """A real retrain that pushes a branch and opens a merge request on the allowed host, with
    git's curl trace on and unredacted as a pipeline variable could ask."""
    set_params(job.work, train={"learning_rate": 0.07})  # new params: a new model to propose
    done = run_job(job, GIT_TRACE_CURL="1", GIT_TRACE_REDACT="0", GIT_CURL_VERBOSE="1")
    log = done.stdout + done.stderr
    assert done.returncode == 0, log[-6000:]
    assert "opened merge request https://standin/-/merge_requests/1" in log
    # The token travelled, in headers only, to the allowed host: git's push and the API calls.
    recorded = job.gitlab.recorded()
    pushes = [r for r in recorded if "receive-pack" in r.path + r.query]
    api = [r for r in recorded if r.path.startswith("/api/v4/")]
    assert pushes and {r.headers.get("authorization") for r in pushes} == {f"Basic {LEAKS[1]}"}
    assert api and all(r.headers.get("private-token") == TOKEN for r in api)
    assert any(r.method == "POST" and r.path.endswith("/merge_requests") for r in api)
    assert all(TOKEN not in r.path + r.query for r in recorded)
    # ...and nowhere else: the job log, its artifacts, any program's arguments.
    artifacts = files_under(job.work, ARTIFACTS)
    assert "retrain.md" in artifacts and any(n.startswith("retrain-report/") for n in artifacts)
    for leak in LEAKS:
        assert leak not in log
        assert all(leak.encode() not in content for content in artifacts.values())
        assert all(leak not in line for line in job.shims.argv())
