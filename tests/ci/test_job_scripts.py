"""The register job script (ci/register.sh) with real git and GTO.

GitLab's server can't run here: the "remote" is a bare git repo (GIT_PUSH_URL).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from tests.support.repo import commit_all
from tests.support.shell import ROOT, sh


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
    # Outside CI (a local path needs no token; in CI only https to ci/allowed-hosts goes).
    env = {"GIT_PUSH_URL": str(origin), "CI": "false", "GITLAB_CI": "false"}
    sh(ROOT / "ci" / "register.sh", cwd=repo, env=env)
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


# The deploy script's tests live in tests/deploy/test_deploy_script.py (stand-ins for the
# registry and the Kubernetes API server, webhook included).
