"""The DVC remote's Google service-account key in the train job (ci/train.sh → ci/dvc-remote.sh).

The job runs for real in a throw-away DVC project whose remote is a Google Drive folder, with
recording shims (shims.py) for every program it starts. Google Drive can't be reached from a
test: the shims record `dvc pull` / `dvc push` and stop there; `dvc config`/`remote` commands,
git, make and python run for real. The key must reach dvc-gdrive as a 0600 file only: never in
an argument, never in a child's environment (decoded or base64), removed when the job ends.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import pytest
from tests.support.shell import ROOT, sh, venv_path
from tests.ci.shims import Shims, make_shims

KEY_PATH = "remote.gdrive.gdrive_service_account_json_file_path"
MAKEFILE = f"""train:
\tstat -c '%a' "$$(dvc config --local {KEY_PATH})" > key-mode.txt
"""


def service_account_key() -> tuple[str, str]:
    """A well-formed (fake) key JSON and the secret part that must never leak."""
    secret = secrets.token_urlsafe(48)
    key = {
        "type": "service_account",
        "project_id": "dvc-remote-test",
        "private_key_id": secrets.token_hex(20),
        "private_key": "-----BEGIN "
        + "PRIVATE KEY-----\n"
        + secret
        + "\n-----END PRIVATE KEY-----\n",
        "client_email": "dvc@dvc-remote-test.iam.gserviceaccount.com",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    return json.dumps(key, indent=2), secret


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("dvc", "init", "-q", cwd=repo)
    sh("dvc", "remote", "add", "-d", "gdrive", "gdrive://0AFakeSharedDriveFolderId", cwd=repo)
    (repo / "Makefile").write_text(MAKEFILE)
    (repo / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", "project", cwd=repo)
    return repo


def run_train_job(repo: Path, tmp_path: Path, **env: str) -> tuple[Shims, str, Path]:
    shims = make_shims(
        tmp_path / "shims",
        {
            "dvc": "*' pull '*|*' push '*",
            "git": "",
            "make": "",
            "python": "",
            "timeout": "",
            "curl": "",
        },
        search=venv_path(),
    )
    tmpdir = tmp_path / "job-tmp"
    tmpdir.mkdir()
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GDRIVE_", "CI_", "DVC_"))}
    result = subprocess.run(
        [str(ROOT / "ci" / "train.sh")],
        cwd=repo,
        env={**base, "PATH": shims.path(venv_path()), "TMPDIR": str(tmpdir), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return shims, result.stdout + result.stderr, tmpdir


def assert_nowhere(secret: str, *texts: str) -> None:
    for text in texts:
        assert secret not in text


@pytest.mark.parametrize(
    ("variable", "pipeline", "pushes"),
    [
        ("GDRIVE_CREDENTIALS_DATA", {"CI_COMMIT_BRANCH": "main"}, True),
        ("GDRIVE_CREDENTIALS_DATA_READONLY", {"CI_MERGE_REQUEST_IID": "7"}, False),
    ],
    ids=["default-branch-write-key", "merge-request-read-only-key"],
)
def test_the_key_reaches_dvc_as_a_private_file_only(
    project: Path, tmp_path: Path, variable: str, pipeline: dict[str, str], pushes: bool
) -> None:
    key, secret = service_account_key()
    encoded = base64.b64encode(key.encode()).decode()  # what GitLab masks
    shims, output, tmpdir = run_train_job(
        project, tmp_path, **{variable: encoded, "CI_DEFAULT_BRANCH": "main", **pipeline}
    )
    # During `make train`, dvc-gdrive's key file existed, readable by its owner only.
    assert (project / "key-mode.txt").read_text().strip() == "600"
    calls = "\n".join(shims.argv())
    assert "ARGV dvc pull --allow-missing" in calls
    assert ("ARGV dvc push" in calls) == pushes
    assert "ARGV make train" in calls
    # Neither form of the key in any argument, any child's environment or the job log.
    for form in (secret, encoded, json.loads(key)["private_key_id"]):
        assert_nowhere(form, calls, shims.environment(), output)
    assert f"ENV make {variable}=" not in shims.environment()
    # Gone at the end, and never inside the project (artifacts and caches come from there).
    assert list(tmpdir.glob("dvc-remote-key.*")) == []
    path = sh(
        "dvc",
        "config",
        "--local",
        "remote.gdrive.gdrive_service_account_json_file_path",
        cwd=project,
    )
    assert not Path(path.strip()).exists() and str(tmpdir) in path


def test_a_malformed_key_fails_clearly_without_printing_it(project: Path, tmp_path: Path) -> None:
    secret = secrets.token_urlsafe(32)
    with pytest.raises(AssertionError, match="neither JSON nor base64 of JSON") as info:
        run_train_job(project, tmp_path, GDRIVE_CREDENTIALS_DATA=f"not-a-key {secret}")
    assert secret not in str(info.value)
    assert list((tmp_path / "job-tmp").glob("dvc-remote-key.*")) == []


def test_a_cancelled_job_removes_the_key(project: Path, tmp_path: Path) -> None:
    """GitLab stops a cancelled job's script with SIGTERM: the key goes with it."""
    key, _ = service_account_key()
    tmpdir = tmp_path / "job-tmp"
    tmpdir.mkdir()
    job = subprocess.Popen(
        [
            "bash",
            "-c",
            f'. "{ROOT}/ci/dvc-remote.sh"; echo "$DVC_REMOTE_KEY_FILE"; sleep 30 & wait',
        ],
        cwd=project,
        env={
            **os.environ,
            "PATH": venv_path(),
            "TMPDIR": str(tmpdir),
            "GDRIVE_CREDENTIALS_DATA": key,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: the background sleep is ended below
    )
    try:
        assert job.stdout is not None
        line = job.stdout.readline()
        while line.startswith("dvc-remote:"):
            line = job.stdout.readline()
        key_file = Path(line.strip())
        assert key_file.is_file() and oct(key_file.stat().st_mode & 0o777) == "0o600"
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=10) == 143
    finally:
        try:
            os.killpg(job.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        job.communicate()  # reap it and close its pipes
    deadline = time.monotonic() + 5
    while key_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not key_file.exists()
