"""The four DVC stages run in a folder, as `dvc repro` runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

STAGES = ("load", "preprocess", "train", "evaluate")

TrainFn = Callable[..., Path]


def run_stage(workdir: Path, stage: str) -> subprocess.CompletedProcess[str]:
    """One stage as `dvc repro` runs it (`python -m mlops_template.stages.<stage>` in
    `workdir`); its exit code and output, whatever they are."""
    return subprocess.run(
        [sys.executable, "-m", f"mlops_template.stages.{stage}"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def run_stages(workdir: Path, params: dict[str, Any]) -> Path:
    """Run the four stages in `workdir` with `params`; return its model/ folder."""
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
