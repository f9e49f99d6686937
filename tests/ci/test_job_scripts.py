"""The register and deploy job scripts (ci/register.sh, ci/deploy.sh) with real git and GTO.

GitLab's server can't run here: the "remote" is a bare git repo (GIT_PUSH_URL) and the deploy
target is a local HTTP stand-in that records the webhook request it receives.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from tests.support.repo import commit_all
from tests.support.shell import ROOT, require_tool, sh


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


@pytest.fixture()
def registry_repo(tmp_path: Path) -> tuple[Path, Path]:
    """A repo with this checkout's dvc.yaml (artifacts: model) and dvc.lock, and its origin."""
    origin, repo = tmp_path / "origin.git", tmp_path / "repo"
    sh("git", "init", "-q", "--bare", origin, cwd=tmp_path)
    # GitLab accepts push options (register pushes with `-o ci.skip`); a bare repo must opt in.
    sh("git", "config", "receive.advertisePushOptions", "true", cwd=origin)
    repo.mkdir()
    for name in ("dvc.yaml", "dvc.lock", "params.yaml"):
        (repo / name).write_text((ROOT / name).read_text())
    sh("git", "init", "-q", "-b", "main", cwd=repo)
    sh("git", "remote", "add", "origin", origin, cwd=repo)
    commit_all(repo, "model")
    sh("git", "push", "-q", "origin", "main", cwd=repo)
    return repo, origin


def register(repo: Path, origin: Path) -> dict[str, str]:
    sh(ROOT / "ci" / "register.sh", cwd=repo, env={"GIT_PUSH_URL": str(origin)})
    return read_env(repo / "register.env")


def change_model(repo: Path) -> None:
    """Another model file hash in dvc.lock, as after retraining."""
    lock = (repo / "dvc.lock").read_text()
    old = re.search(r"path: model/model\.skops\n\s+hash: md5\n\s+md5: (\w+)", lock)
    assert old is not None, "dvc.lock has no model/model.skops output"
    (repo / "dvc.lock").write_text(lock.replace(old.group(1), "0" * 32))
    commit_all(repo, "retrained")


def test_register_tags_only_a_changed_model(registry_repo: tuple[Path, Path]) -> None:
    repo, origin = registry_repo
    first = register(repo, origin)
    assert first == {
        "MODEL_VERSION": "v0.0.1",
        "MODEL_TAG": "model@v0.0.1",
        "MODEL_CHANGED": "true",
    }
    assert sh("git", "tag", cwd=origin).split() == ["model@v0.0.1"]

    commit_all_params = (repo / "params.yaml").read_text() + "# a comment, same model\n"
    (repo / "params.yaml").write_text(commit_all_params)
    commit_all(repo, "docs only")
    assert register(repo, origin)["MODEL_CHANGED"] == "false"
    assert sh("git", "tag", cwd=origin).split() == ["model@v0.0.1"]

    change_model(repo)
    third = register(repo, origin)
    assert third["MODEL_VERSION"] == "v0.0.2" and third["MODEL_CHANGED"] == "true"
    assert sh("git", "tag", cwd=origin).split() == ["model@v0.0.1", "model@v0.0.2"]


class Recorder(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.requests.append(
            {"path": self.path, "auth": self.headers["Authorization"], "body": json.loads(body)}
        )
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        """Quiet: the test asserts on the recorded requests."""


@pytest.fixture()
def webhook() -> Iterator[str]:
    Recorder.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/deploy"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_deploy_rolls_out_the_image_of_the_prod_tag(
    registry_repo: tuple[Path, Path], webhook: str
) -> None:
    require_tool("curl")
    repo, origin = registry_repo
    register(repo, origin)
    sh("gto", "assign", "model", "--version", "v0.0.1", "--stage", "prod", cwd=repo)
    env = {
        "IMAGE": "registry.example.com/group/project",
        "DEPLOY_WEBHOOK_URL": webhook,
        "DEPLOY_WEBHOOK_TOKEN": "s3cret",
    }
    out = sh(ROOT / "ci" / "deploy.sh", "model#prod#1", cwd=repo, env=env)
    assert "model#prod#1 assigns v0.0.1 to stage prod" in out
    head = sh("git", "rev-parse", "HEAD", cwd=repo).strip()
    assert Recorder.requests == [
        {
            "path": "/deploy",
            "auth": "Bearer s3cret",
            "body": {
                "image": "registry.example.com/group/project:v0.0.1",
                "version": "v0.0.1",
                "stage": "prod",
                "tag": "model#prod#1",
                "commit": head,
            },
        }
    ]
    assert read_env(repo / "deploy.env")["DEPLOYED_IMAGE"].endswith(":v0.0.1")


def test_deploy_refuses_a_version_tag_and_a_missing_target(
    registry_repo: tuple[Path, Path],
) -> None:
    repo, origin = registry_repo
    register(repo, origin)
    with pytest.raises(AssertionError, match="not a stage assignment"):
        sh(ROOT / "ci" / "deploy.sh", "model@v0.0.1", cwd=repo, env={"IMAGE": "x"})
    sh("gto", "assign", "model", "--version", "v0.0.1", "--stage", "prod", cwd=repo)
    with pytest.raises(AssertionError, match="no target configured"):
        sh(ROOT / "ci" / "deploy.sh", "model#prod#1", cwd=repo, env={"IMAGE": "x"})
