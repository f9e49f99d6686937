"""Throw-away git repositories made from this checkout's files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from tests.support.shell import ROOT, sh


def checkout_files(untracked: bool = True) -> list[str]:
    """The files git tracks here (and, with `untracked`, the new ones it doesn't ignore) that
    exist in the work tree: what a commit of the work tree would hold."""
    args = ["git", "ls-files", "-z", *(["-co", "--exclude-standard"] if untracked else [])]
    listed = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def copy_checkout(
    dest: Path, untracked: bool = True, skip: tuple[str, ...] = (), names: list[str] | None = None
) -> Path:
    """Copy the checkout's files (work-tree content; `names` or all) into `dest`, minus
    those starting with a prefix in `skip`."""
    for name in names if names is not None else checkout_files(untracked):
        if skip and name.startswith(skip):
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, target)
    return dest


def commit_all(repo: Path, message: str) -> None:
    sh("git", "add", "-A", cwd=repo)
    sh("git", "commit", "-q", "-m", message, cwd=repo)


def init_repo(path: Path, message: str | None = "main") -> Path:
    """`git init -b main` in `path`; with a first commit of everything unless message is None."""
    sh("git", "init", "-q", "-b", "main", cwd=path)
    if message is not None:
        commit_all(path, message)
    return path


def default_params() -> dict[str, Any]:
    params: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())
    return params


def set_params(repo: Path, **sections: dict[str, Any]) -> None:
    """Merge values into params.yaml sections (rewrites the file)."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for name, values in sections.items():
        params[name] = {**params.get(name, {}), **values}
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def main_learning_rate() -> float:
    """train.learning_rate in this checkout's params.yaml (what `main` holds in the temp repos)."""
    return float(default_params()["train"]["learning_rate"])


def feature_params() -> dict[str, dict[str, Any]]:
    """A one-param merge request: double the learning rate (whatever this checkout holds)."""
    return {"train": {"learning_rate": main_learning_rate() * 2}}


def make_mr_repo(base: Path, feature: dict[str, dict[str, Any]]) -> Path:
    """origin.git with `main` = this checkout, and a clone on branch `feature` whose commit
    changes params.yaml like a merge request would. Returns the clone."""
    seed, origin, work = base / "seed", base / "origin.git", base / "work"
    seed.mkdir(parents=True)
    init_repo(copy_checkout(seed))
    sh("git", "clone", "-q", "--bare", seed, origin, cwd=base)
    sh("git", "clone", "-q", origin, work, cwd=base)
    sh("git", "checkout", "-q", "-b", "feature", cwd=work)
    set_params(work, **feature)
    commit_all(work, "feature: change params")
    return work
