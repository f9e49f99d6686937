"""The build job's side of the image identity (ci/build.sh): the model baked in must have the md5
that the commit's dvc.lock records, the image is pushed as `:<full commit sha>` (+ the model
version) and the pushed digest lands in the dotenv report (IMAGE_DIGEST, IMAGE_REF).

No registry can be reached from here and no base image pulled, so `buildah` is a recording
stand-in on PATH: it logs its arguments and stdin, and for `push --digestfile` writes the
digest a registry would return. The md5 check, the tags and the report are the real script's.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
from pathlib import Path

import pytest
from tests.support.shell import ROOT

BUILDAH = """#!/usr/bin/env bash
printf 'ARGV %s\\n' "$*" >> "{log}"
if [ "$1" = login ]; then printf 'STDIN %s\\n' "$(cat)" >> "{log}"; fi
if [ "$1" = push ]; then
  while [ $# -gt 0 ]; do
    if [ "$1" = --digestfile ]; then printf 'sha256:%064d' 7 > "$2"; fi
    shift
  done
fi
"""
COMMIT = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret (a sha)
PASSWORD = "registry-job-token-secret"  # pragma: allowlist secret (a fake)


def bundle(repo: Path, content: bytes, locked_md5: str | None = None) -> None:
    (repo / "model").mkdir(parents=True)
    (repo / "model" / "model.skops").write_bytes(content)
    (repo / "model" / "model_card.json").write_text("{}")
    lock = (ROOT / "dvc.lock").read_text()
    old = re.search(r"path: model/model\.skops\n\s+hash: md5\n\s+md5: (\w+)", lock)
    assert old is not None
    md5 = locked_md5 or hashlib.md5(content).hexdigest()
    (repo / "dvc.lock").write_text(lock.replace(old.group(1), md5))


def build(repo: Path, tmp_path: Path) -> tuple[subprocess.CompletedProcess[str], str]:
    shims = tmp_path / "bin"
    shims.mkdir()
    log = tmp_path / "buildah.log"
    (shims / "buildah").write_text(BUILDAH.format(log=log))
    (shims / "buildah").chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shims}{os.pathsep}{os.environ['PATH']}",
        "CI_REGISTRY": "registry.example.com",
        "CI_REGISTRY_IMAGE": "registry.example.com/group/project",
        "CI_REGISTRY_USER": "gitlab-ci-token",
        "CI_REGISTRY_PASSWORD": PASSWORD,
        "CI_COMMIT_SHA": COMMIT,
        "MODEL_VERSION": "v1.2.3",
    }
    done = subprocess.run(
        [str(ROOT / "ci" / "build.sh")],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done, log.read_text() if log.exists() else ""


def test_the_image_is_pushed_by_commit_and_its_digest_reported(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    bundle(repo, b"the model bytes")
    done, calls = build(repo, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    image = "registry.example.com/group/project"
    digest = "sha256:" + "0" * 63 + "7"
    assert (repo / "build.env").read_text().splitlines() == [
        f"IMAGE_DIGEST={digest}",
        f"IMAGE_REF={image}@{digest}",
        f"IMAGE_COMMIT_TAG={image}:{COMMIT}",
    ]
    argv = [line for line in calls.splitlines() if line.startswith("ARGV ")]
    assert argv[0] == "ARGV login --username gitlab-ci-token --password-stdin registry.example.com"
    assert f"-t {image}:{COMMIT} -t {image}:v1.2.3 ." in argv[1]
    assert "--label model.md5=" + hashlib.md5(b"the model bytes").hexdigest() in argv[1]
    assert argv[2].startswith("ARGV push --digestfile ") and argv[2].endswith(f"{image}:{COMMIT}")
    assert argv[3] == f"ARGV push {image}:v1.2.3"
    # The registry password goes through stdin, never an argument.
    assert f"STDIN {PASSWORD}" in calls and all(PASSWORD not in line for line in argv)


@pytest.mark.parametrize("locked", ["0" * 32, None], ids=["other-md5", "not-in-lock"])
def test_a_model_other_than_the_locked_one_is_not_baked_in(
    tmp_path: Path, locked: str | None
) -> None:
    repo = tmp_path / "repo"
    bundle(repo, b"a model trained elsewhere", locked_md5=locked or "x")
    if locked is None:
        lock = (repo / "dvc.lock").read_text().replace("path: model/model.skops", "path: other")
        (repo / "dvc.lock").write_text(lock)
    done, calls = build(repo, tmp_path)
    assert done.returncode == 1
    expected = "but dvc.lock of" if locked else "is not in dvc.lock"
    assert expected in done.stderr
    assert calls == "" and not (repo / "build.env").exists()
