"""Helpers shared by the test folders (importable by a unique name, unlike `conftest`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "preprocess", "train", "evaluate")

TrainFn = Callable[..., Path]


def require_tool(name: str) -> str:
    """Path of `name`; skip locally if missing, but fail in CI (CI=true) — never a silent skip."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (.ci/run installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_stages(workdir: Path, params: dict[str, Any]) -> Path:
    """Run the four stages (as `python -m`, like dvc.yaml does) in `workdir`; return model/."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))
    # One process for the four stages (what `dvc repro` runs as four `python -m`), to pay
    # the import cost once.
    code = "; ".join(f"from mlops_template.stages import {s}; {s}.main()" for s in STAGES)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=workdir, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"pipeline failed in {workdir}:\n{result.stdout}\n{result.stderr}")
    return workdir / "model"


def default_params() -> dict[str, Any]:
    params: dict[str, Any] = yaml.safe_load((ROOT / "params.yaml").read_text())
    return params
