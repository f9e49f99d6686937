"""checkov (a policy scanner, from its own venv: `make k8s-tools`) passes on every
kustomization as it is applied (the image set by digest, as ci/deploy.sh does), with the skip
list in deploy/checkov-skips.yaml, where every entry says why and is still needed. Run with
--skip-download: offline, checkov neither fetches its guideline mappings nor checks versions.
Scan time is a few seconds (measured in docs/kubernetes.md)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import yaml
from tests.deploy.manifests import checkov, DEPLOY, KUSTOMIZATIONS, overlay, render
from tests.support.shell import ROOT

SKIPS = DEPLOY / "checkov-skips.yaml"
IMAGE = {
    "name": "mlops-template-api",
    "newName": "registry.example.com/group/project",
    "digest": "sha256:" + "cd" * 32,
}


def rendered(tmp_path: Path) -> list[Path]:
    files = []
    for directory in KUSTOMIZATIONS:
        name = directory.name
        docs = render(overlay(directory, tmp_path / "k" / name, images=[IMAGE]))
        path = tmp_path / f"{name}.yaml"
        path.write_text(yaml.safe_dump_all(docs))
        files.append(path)
    return files


def scan(files: list[Path], skips: list[str]) -> list[dict[str, Any]]:
    cmd = [checkov(), "--framework", "kubernetes", "--skip-download", "--quiet", "-o", "json"]
    for path in files:
        cmd += ["-f", str(path)]
    if skips:
        cmd += ["--skip-check", ",".join(skips)]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode in (0, 1), result.stderr[-3000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed: list[dict[str, Any]] = []
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, report["summary"]
        failed.extend(report["results"]["failed_checks"])
    return failed


def test_every_skip_says_why() -> None:
    skips = yaml.safe_load(SKIPS.read_text())
    assert skips, "empty skip list: delete the file's entries, keep the file"
    for check, reason in skips.items():
        assert check.startswith("CKV"), check
        assert isinstance(reason, str) and len(reason.split()) >= 10, f"{check}: say why"


def test_checkov_passes_with_the_skip_list_and_every_skip_is_needed(tmp_path: Path) -> None:
    files = rendered(tmp_path)
    skips = sorted(yaml.safe_load(SKIPS.read_text()))
    failed = scan(files, skips)
    assert not failed, [(f["check_id"], f["resource"], f["check_name"]) for f in failed]
    # Without the list, exactly the skipped checks fail: no skip hides nothing.
    unskipped = {f["check_id"] for f in scan(files, [])}
    assert unskipped == set(skips), unskipped
