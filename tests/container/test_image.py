"""The API image, built and run for real with podman (docker/build-local.sh: a local Debian
bookworm base standing in for python:3.11-slim, wheels from the host, no network in the
build). Run as production runs it (read-only root filesystem, /tmp on tmpfs, no capabilities,
no privilege escalation), the container must become ready, answer /ready and /predict, export
merged metrics, run as a numeric non-root user with a HEALTHCHECK, and stop gracefully on
SIGTERM.
Image size and start-to-ready are measured in bench/container.py, not asserted here."""

from __future__ import annotations

import json
import subprocess
import urllib.request
import uuid
from pathlib import Path

import pytest
from tests.container.podman_image import logs, podman

from tests.support.net import free_port, http_json, wait_until
from tests.support.shell import ROOT, venv_tool
from tests.support.traffic import records

pytestmark = [pytest.mark.slow, pytest.mark.container]

# How production runs the image (deploy/kubernetes: readOnlyRootFilesystem, drop ALL,
# allowPrivilegeEscalation false, an emptyDir on /tmp); DRAIN_SECONDS=1 keeps the stop short.
PRODUCTION = ["--read-only", "--tmpfs", "/tmp", "--cap-drop=ALL",
              "--security-opt=no-new-privileges", "--env", "DRAIN_SECONDS=1"]  # fmt: skip


def test_dockerfile_is_hadolint_clean() -> None:
    hadolint = venv_tool("hadolint")
    result = subprocess.run(
        [hadolint, str(ROOT / "docker" / "Dockerfile")], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_image_runs_non_root_with_healthcheck_and_stop_signal(image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image))[0]
    config = inspected["Config"]
    assert config["User"] == "10001"
    # podman lists the (docker-format) HEALTHCHECK next to Config, docker inside it.
    healthcheck = inspected.get("Healthcheck") or config.get("Healthcheck")
    assert healthcheck and "/ready" in " ".join(healthcheck["Test"])
    assert config["StopSignal"] == "SIGTERM"
    assert config["Cmd"] == ["python", "-m", "api"]


def test_container_serves_predictions_and_metrics_and_stops_gracefully(
    image: str, model_dir: Path
) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    port = free_port()
    name = f"api-test-{uuid.uuid4().hex[:8]}"
    podman("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000",
           *PRODUCTION, image)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            state = podman("inspect", "--format", "{{.State.Status}}", name)
            assert state == "running", logs(name)
            return http_json(f"{url}/ready", timeout=2)[0] == 200

        try:
            wait_until(ready, 120, "the container's /ready")
        except AssertionError as exc:
            raise AssertionError(
                f"{exc}\n{http_json(f'{url}/ready')}\n{logs(name)[-3000:]}"
            ) from None
        status, body = http_json(f"{url}/ready")
        assert body["ready"] is True and body["version"] == card["version"]

        rows = records(card, 20, seed=3)
        status, body = http_json(f"{url}/predict", {"records": rows})
        assert status == 200, body
        assert len(body["predictions"]) == 20
        assert {p["prediction"] for p in body["predictions"]} <= set(card["classes"])

        def predicted() -> float:
            with urllib.request.urlopen(f"{url}/metrics", timeout=5) as r:
                metrics = r.read().decode()
            return sum(
                float(line.rsplit(" ", 1)[1])
                for line in metrics.splitlines()
                if line.startswith("model_predictions_total{")
            )

        # Workers write their tallies to the multiprocess files every 0.5 s (and before a
        # scrape they serve), so a scrape served by the other worker can lag by that much.
        wait_until(lambda: predicted() == 20, 10, "20 predictions in /metrics")
        assert predicted() == 20

        assert podman("exec", name, "id", "-u") == "10001"
        # The root filesystem really is read-only; /tmp (metrics files) is writable.
        denied = podman("exec", name, "touch", "/app/x", check=False)
        assert podman("exec", name, "sh", "-c", "touch /app/x 2>&1; echo $?").endswith("1"), denied
        assert podman("exec", name, "sh", "-c", "ls /tmp/prometheus-multiproc | wc -l") != "0"
        # The HEALTHCHECK command itself passes inside the container.
        podman("healthcheck", "run", name)
    finally:
        podman("stop", "--time", "20", name, check=False)
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", name, check=False)
        output = logs(name)
        podman("rm", "--force", name, check=False)
    # gunicorn got SIGTERM (not SIGKILL after the timeout) and shut its workers down cleanly.
    assert exit_code == "0", output[-3000:]
