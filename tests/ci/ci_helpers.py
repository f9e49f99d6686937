"""Helpers for the CI tests: throw-away git repos made from this checkout's tracked files."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "ci-test",
    "GIT_AUTHOR_EMAIL": "ci-test@localhost",
    "GIT_COMMITTER_NAME": "ci-test",
    "GIT_COMMITTER_EMAIL": "ci-test@localhost",
}


from pipeline_helpers import require_tool  # noqa: E402  (tests/ is on sys.path)

__all__ = ["require_tool"]


def sh(
    *args: str | Path, cwd: Path, env: dict[str, str] | None = None, timeout: float = 600
) -> str:
    """Run a command; raise with its output if it fails."""
    result = subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **GIT_ENV, "PATH": venv_path(), **(env or {})},
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )
    return result.stdout


def venv_path() -> str:
    """PATH with the project's venv first, like `make` sets it (dvc.yaml runs `python -m`)."""
    return f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"


def tracked_files(root: Path = ROOT) -> list[str]:
    """The files git tracks here that exist in the work tree (what a push would send)."""
    listed = sh("git", "ls-files", "-z", cwd=root).split("\0")
    return [name for name in listed if name and (root / name).is_file()]


def copy_checkout(dest: Path, names: list[str] | None = None) -> None:
    """Copy the tracked files (work-tree content) of this checkout into `dest`."""
    for name in names if names is not None else tracked_files():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)


def set_params(repo: Path, **sections: dict[str, Any]) -> None:
    """Merge values into params.yaml sections (rewrites the file)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for name, values in sections.items():
        params[name] = {**params.get(name, {}), **values}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def commit_all(repo: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", message, cwd=repo)


def main_learning_rate() -> float:
    """train.learning_rate in this checkout's params.yaml (what `main` holds in the temp repos)."""
    return float(yaml.safe_load((ROOT / "params.yaml").read_text())["train"]["learning_rate"])


def feature_params() -> dict[str, dict[str, Any]]:
    """A one-param merge request: double the learning rate (whatever this checkout holds)."""
    return {"train": {"learning_rate": main_learning_rate() * 2}}


def make_mr_repo(base: Path, feature_params: dict[str, dict[str, Any]]) -> Path:
    """origin.git with `main` = this checkout, and a clone on branch `feature` whose commit
    changes params.yaml like a merge request would. Returns the clone."""
    seed, origin, work = base / "seed", base / "origin.git", base / "work"
    seed.mkdir(parents=True)
    copy_checkout(seed)
    sh("git", "init", "-q", "-b", "main", cwd=seed)
    commit_all(seed, "main")
    sh("git", "clone", "-q", "--bare", seed, origin, cwd=base)
    sh("git", "clone", "-q", origin, work, cwd=base)
    sh("git", "checkout", "-q", "-b", "feature", cwd=work)
    set_params(work, **feature_params)
    commit_all(work, "feature: change params")
    return work
