"""The register job's tag push (ci/register.sh) in CI mode, the way it runs in GitLab: the token
goes only to the host of the committed ci/allowed-hosts, over https, as a header; never in an
argument, a URL, the job log (even with git's curl trace on) or the dotenv artifact.

GitLab's server can't run here. Its git endpoint is replaced by a recording HTTPS stand-in on
127.0.0.1 (recorder.py, a throw-away certificate) that serves a bare repository with the real
`git http-backend`; the attacker's host by a second recording server. git, GTO and python run
for real, behind recording shims (shims.py) that log every argument.
"""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.ci.recorder import git_backend, serve, Server, tls_files
from tests.support.repo import commit_all
from tests.support.shell import ROOT, sh, venv_path
from tests.ci.shims import Shims, make_shims

TOKEN = "glpat-register-test-9f8e7d6c5b4a"  # pragma: allowlist secret (a fake)
LEAKS = [TOKEN, base64.b64encode(f"oauth2:{TOKEN}".encode()).decode()]


@dataclass(frozen=True)
class Setup:
    repo: Path  # the job's checkout
    gitlab: Server  # the stand-in the committed allow-list names
    bare: Path  # the project's repository behind it
    cert: Path
    shims: Shims


@pytest.fixture()
def setup(tmp_path: Path) -> Iterator[Setup]:
    cert, key = tls_files(tmp_path)
    git_root = tmp_path / "gitlab"
    bare = git_root / "group" / "project.git"
    sh("git", "init", "-q", "--bare", bare, cwd=tmp_path)
    sh("git", "config", "receive.advertisePushOptions", "true", cwd=bare)  # as GitLab does
    with serve(git_backend(git_root), tls=(cert, key)) as gitlab:
        repo = tmp_path / "repo"
        repo.mkdir()
        for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
            (repo / name).write_text((ROOT / name).read_text())
        # The fork's committed allow-list names its GitLab: here, the stand-in.
        (repo / "ci").mkdir()
        (repo / "ci" / "allowed-hosts").write_text(gitlab.url.removeprefix("https://") + "\n")
        sh("git", "init", "-q", "-b", "main", cwd=repo)
        sh("git", "remote", "add", "origin", bare, cwd=repo)  # the clone's own fetch remote
        commit_all(repo, "model")
        sh("git", "push", "-q", "origin", "main", cwd=repo)
        shims = make_shims(
            tmp_path / "shims", {"git": "", "curl": "", "python": "", "gto": ""}, venv_path()
        )
        yield Setup(repo, gitlab, bare, cert, shims)


def run_register(setup: Setup, **env: str) -> subprocess.CompletedProcess[str]:
    host, _, port = setup.gitlab.url.removeprefix("https://").partition(":")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GIT_"))}
    variables = {
        "CI": "true",
        "CI_SERVER_PROTOCOL": "https",
        "CI_SERVER_HOST": host,
        "CI_SERVER_PORT": port,
        "CI_PROJECT_PATH": "group/project",
        "REGISTER_TOKEN": TOKEN,
        "GIT_SSL_CAINFO": str(setup.cert),  # what a self-managed GitLab's CA file does
        "GIT_AUTHOR_NAME": "ci",
        "GIT_AUTHOR_EMAIL": "ci@localhost",
        "GIT_COMMITTER_NAME": "ci",
        "GIT_COMMITTER_EMAIL": "ci@localhost",
        "PATH": setup.shims.path(venv_path()),
        **env,
    }
    return subprocess.run(
        [str(ROOT / "ci" / "register.sh")],
        cwd=setup.repo,
        env={**base, **variables},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_tag_reaches_the_allowed_host_and_the_token_no_log(setup: Setup) -> None:
    """With git's curl trace on and unredacted, the job log would show the Authorization
    header; the script turns the traces off for the one command that carries it."""
    done = run_register(
        setup, GIT_TRACE_CURL="1", GIT_TRACE_REDACT="0", GIT_CURL_VERBOSE="1", GIT_TRACE="1"
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "register: pushed model@v0.0.1" in done.stdout
    assert sh("git", "tag", cwd=setup.bare).split() == ["model@v0.0.1"]
    # The token really travelled, as a header, to the allowed host only...
    pushes = [r for r in setup.gitlab.recorded() if "receive-pack" in r.path + r.query]
    assert pushes and {r.headers.get("authorization") for r in pushes} == {f"Basic {LEAKS[1]}"}
    assert all(TOKEN not in r.path + r.query for r in setup.gitlab.recorded())
    # ...and nowhere else: not in the log, the artifact or any program's arguments.
    artifacts = (setup.repo / "register.env").read_text()
    assert "MODEL_VERSION=v0.0.1" in artifacts
    for leak in LEAKS:
        for text in (done.stdout, done.stderr, artifacts, "\n".join(setup.shims.argv())):
            assert leak not in text
    # GTO, python and the other git calls don't even inherit it.
    assert f"REGISTER_TOKEN={TOKEN}" not in setup.shims.environment()


@pytest.mark.parametrize(
    "redirect",
    [
        {"CI_SERVER_PORT": "{evil_port}"},  # a pipeline variable overriding GitLab's own
        {"GIT_PUSH_URL": "https://127.0.0.1:{evil_port}/group/project.git"},
        {"GIT_PUSH_URL": "http://127.0.0.1:{gitlab_port}/group/project.git"},  # no TLS
    ],
    ids=["CI_SERVER_PORT", "GIT_PUSH_URL-other-host", "GIT_PUSH_URL-plain-http"],
)
def test_a_push_url_set_by_a_variable_gets_nothing(
    setup: Setup, tmp_path: Path, redirect: dict[str, str]
) -> None:
    cert, key = tls_files(tmp_path)
    with serve(tls=(cert, key)) as evil:
        ports = {
            "evil_port": evil.url.rsplit(":", 1)[1],
            "gitlab_port": setup.gitlab.url.rsplit(":", 1)[1],
        }
        env = {name: value.format(**ports) for name, value in redirect.items()}
        done = run_register(setup, GIT_SSL_CAINFO=str(cert), **env)
        assert done.returncode == 1, done.stdout + done.stderr
        assert "hosts: GIT_PUSH_URL=" in done.stderr
        assert evil.recorded() == [] and setup.gitlab.credentials() == []
    # Refused before GTO tagged anything.
    assert sh("git", "tag", cwd=setup.repo).split() == []
    assert all(TOKEN not in line for line in setup.shims.argv())
