"""The API is part of the installed package and needs only the `serve` side of it: it imports
no pipeline stage, review or continuous-training code, and no training-only library."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# Run in a fresh interpreter where importing any of these fails.
BLOCKED = ("yaml", "dvc", "dvclive", "gto", "matplotlib", "vl_convert", "pyarrow")
BLOCKED_PARTS = ("mlops_template.stages", "mlops_template.review", "mlops_template.ct")
SCRIPT = f"""
import importlib.abc, sys

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {BLOCKED!r} or name.startswith({BLOCKED_PARTS!r}):
            raise ImportError(f"the API imported {{name}}")
        return None

sys.meta_path.insert(0, Block())
from starlette.testclient import TestClient
from api.main import create_app
from api.settings import Settings

with TestClient(create_app(Settings(model_dir=sys.argv[1]))) as client:
    ready = client.get("/ready")
    assert ready.status_code == 200, ready.text
    example = client.app.openapi()["components"]["schemas"]["PredictRequest"]["examples"][0]
    answer = client.post("/predict", json=example)
    assert answer.status_code == 200, answer.text
print("served")
"""


def test_api_is_installed_with_the_package() -> None:
    """Importable from any folder (not through the checkout on sys.path)."""
    result = subprocess.run(
        [sys.executable, "-c", "import api, mlops_template; print(api.__name__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.stdout.strip() == "api", result.stderr


def test_api_serves_without_training_code_or_libraries(model_dir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_dir)],
        cwd="/",
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("served")
