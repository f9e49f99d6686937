"""The image installs only the `serve` extra: without pyarrow/fsspec the server still serves
ids and /feedback, and CAPTURE_ENABLED=true fails with a message naming the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.feedback.conftest import KEY

SCRIPT = """
import sys


class NotInstalled:  # as if the capture extra were not installed
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pyarrow", "fsspec", "s3fs"):
            raise ImportError(f"No module named {name!r}")
        return None


sys.meta_path.insert(0, NotInstalled())
from pathlib import Path
from fastapi.testclient import TestClient
from api.main import create_app
from api.settings import Settings
from api.feedback.settings import CaptureSettings
from tests.support.api import record

model = Path(sys.argv[1])
with TestClient(create_app(Settings(model_dir=model))) as client:
    answer = client.post("/predict", json={"records": [record(model)]}).json()["predictions"][0]
    item = {"id": answer["id"], "label": answer["prediction"]}
    print("accepted", client.post("/feedback", json={"feedback": [item]}).json()["accepted"])
settings = Settings(model_dir=model, capture=CaptureSettings(enabled=True))
with TestClient(create_app(settings)) as client:
    print("ready", client.get("/ready").status_code, client.get("/ready").json()["reason"])
"""


def test_ids_and_feedback_need_no_capture_extra(model_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(model_dir)],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).parents[2],
        env={"FEEDBACK_KEY": KEY, "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "accepted 1" in done.stdout
    assert "ready 503" in done.stdout and "capture extra" in done.stdout
