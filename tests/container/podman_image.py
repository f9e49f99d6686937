"""podman helpers and the API image, built once per test session with docker/build-local.sh
(a local Debian bookworm base standing in for python:3.11-slim, wheels from the host, no
network in the build) and shared by every container test; the tag is removed at the end."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.shell import require_tool, ROOT

STATE_DIR = Path(os.environ.get("PODMAN_STATE_DIR", ROOT / "build" / "podman"))


def podman_env() -> dict[str, str]:
    return {
        **os.environ,
        "STATE_DIR": str(STATE_DIR),
        "CONTAINERS_CONF": str(STATE_DIR / "containers.conf"),
        "CONTAINERS_STORAGE_CONF": str(STATE_DIR / "storage.conf"),
    }


def podman(*args: str, check: bool = True, timeout: float = 120) -> str:
    result = subprocess.run(
        ["podman", *args],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)}:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip()


def logs(name: str) -> str:
    result = subprocess.run(
        ["podman", "logs", name], env=podman_env(), capture_output=True, text=True, check=False
    )
    return result.stdout + result.stderr


@pytest.fixture(scope="session")
def image(model_dir: Path) -> Iterator[str]:
    """docker/build-local.sh with the test bundle baked in; the tag is removed afterwards."""
    for tool in ("podman", "runc", "debootstrap"):
        require_tool(tool)
    tag = f"localhost/mlops-template-api:test-{uuid.uuid4().hex[:8]}"
    env = {**podman_env(), "IMAGE": tag, "MODEL_DIR": str(model_dir), "PYTHON": sys.executable}
    result = subprocess.run(
        [str(ROOT / "docker" / "build-local.sh")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert (
        result.returncode == 0
    ), f"build failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    try:
        yield tag
    finally:
        podman("rmi", "--force", tag, check=False)
