"""DVC re-hashes what it downloads (`verify = true` on every remote in .dvc/config): a file
replaced in the remote store by someone who can write there is refused on `dvc pull`, instead
of landing in model/ (where only the model card's sha256, which travels with it, would check it).

Run against a local remote (DVC's own code for every remote type decides on `verify`); the
control run with `verify = false` shows the setting is what stops it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.shell import ROOT


def dvc(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "dvc", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"dvc {' '.join(args)}: {result.stdout}{result.stderr}")
    return result


def test_every_remote_of_the_template_verifies_downloads() -> None:
    listed = dvc("remote", "list", "--project", cwd=ROOT).stdout.splitlines()
    remotes = [line.split()[0] for line in listed if line.strip()]
    assert remotes, "no remote in .dvc/config"
    for name in remotes:
        value = dvc("config", "--project", f"remote.{name}.verify", cwd=ROOT).stdout.strip()
        assert value == "true", f"remote {name}: verify is {value!r}, not true"


@pytest.mark.parametrize("verify", ["true", "false"])
def test_a_tampered_remote_file_is_refused_on_pull(tmp_path: Path, verify: str) -> None:
    repo, remote = tmp_path / "repo", tmp_path / "remote"
    repo.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    dvc("init", "-q", cwd=repo)
    dvc("remote", "add", "-d", "store", str(remote), cwd=repo)
    dvc("remote", "modify", "store", "verify", verify, cwd=repo)
    (repo / "model.skops").write_bytes(b"the real model")
    dvc("add", "-q", "model.skops", cwd=repo)
    dvc("push", "-q", cwd=repo)
    [stored] = [p for p in remote.rglob("*") if p.is_file()]
    stored.write_bytes(b"a model, evil")  # same size: only a hash check can tell
    for path in (repo / ".dvc" / "cache", repo / ".dvc" / "tmp"):
        subprocess.run(["rm", "-rf", str(path)], check=True)
    (repo / "model.skops").unlink()
    pulled = dvc("pull", cwd=repo, check=False)
    if verify == "true":
        assert pulled.returncode != 0
        assert not (repo / "model.skops").exists()
    else:  # the control: without verify the replaced bytes reach the workspace
        assert (repo / "model.skops").read_bytes() == b"a model, evil"
