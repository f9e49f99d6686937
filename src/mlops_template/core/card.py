"""The model card: everything the API needs to know about the model next to it."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Any

import sklearn
import skops

from mlops_template.core import io

MODEL_NAME = "model"  # the artifact name in dvc.yaml and in the GTO registry


def build(
    info: dict[str, Any],
    metrics: dict[str, float],
    params: dict[str, Any],
    drift_reference: dict[str, Any],
    model_file: str,
) -> dict[str, Any]:
    """Assemble the card from the train stage's info and the evaluate stage's results."""
    return {
        "name": MODEL_NAME,
        "version": info["sha256"][:12],
        "task": info["task"],
        "target": info["target"],
        "classes": info["classes"],
        "model": info["model"],
        "features": info["features"],
        "metrics": metrics,
        "params": params,
        "history": info["history"],
        "model_file": model_file,
        "sha256": info["sha256"],
        "drift_reference": drift_reference,
        "runtime": {
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
    }


def read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = io.read_json(path)
    return data
