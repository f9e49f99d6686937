"""The sbom job's script (ci/sbom.sh): a CycloneDX SBOM of exactly the packages of the
environment it describes. In CI that is the served image's /opt/venv, from inside the image;
here a fresh venv stands in for it (no image can be pulled), and the installed cyclonedx-py
(SBOM_TOOL) for the one the job installs from the lock file (no network in tests)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.support.shell import ROOT, VENV

pytestmark = pytest.mark.slow  # makes a venv (about 10 s)


def test_the_sbom_lists_the_environment_and_not_the_tool(tmp_path: Path) -> None:
    served = tmp_path / "served-venv"
    subprocess.run([sys.executable, "-m", "venv", str(served)], check=True, timeout=120)
    listed = subprocess.run(
        [str(served / "bin" / "python"), "-m", "pip", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = {(p["name"].lower(), p["version"]) for p in json.loads(listed.stdout)}
    out = tmp_path / "gl-sbom-python-image.cdx.json"
    env = {
        **os.environ,
        "SBOM_PYTHON": str(served),
        "SBOM_FILE": str(out),
        "SBOM_TOOL": str(VENV / "bin" / "cyclonedx-py"),
    }
    done = subprocess.run(
        [str(ROOT / "ci" / "sbom.sh")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    bom = json.loads(out.read_text())
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"].startswith("1.")
    found = {(c["name"].lower(), c["version"]) for c in bom["components"]}
    assert found == expected and expected  # pip (and what ensurepip brings), nothing else
    assert all(c["purl"].startswith("pkg:pypi/") for c in bom["components"])
    assert f"{len(expected)} packages of {served}" in done.stdout
