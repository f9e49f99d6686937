"""Each hostile bundle (tests/support/hostile.py) through the real server, `python -m api` (what
`make serve` and the container run), one worker: the process stays up, /health 200, /ready and
/predict 503 naming the type or field, the payload never runs, the worker's memory stays small.
The servers run a few at a time (each check is independent) to keep the suite short."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.api.test_hostile_bundles import NAMES, source
from tests.support import hostile
from tests.support.api import example
from tests.support.net import http_json
from tests.support.processes import run_api

pytestmark = pytest.mark.slow

# A worker with the default model peaks near 200 MB here; reading a 2 GB file would not fit.
PEAK_MB = 600


def peak_mb(pid: int) -> float:
    """The largest resident set a process had (VmHWM), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmHWM for {pid}")


def check(name: str, src: Path, body: dict[str, object], workdir: Path) -> None:
    marker = workdir / "marker"
    reason = hostile.make(name, src, workdir / "model", marker)
    with run_api(workdir / "model", workdir / "run", workers=1, wait_path="/health") as server:
        status, ready = http_json(f"{server.url}/ready")
        assert status == 503 and reason in ready["reason"], f"{name}: {ready}"
        status, answer = http_json(f"{server.url}/predict", body)
        assert status == 503 and reason in answer["detail"], f"{name}: {answer}"
        assert http_json(f"{server.url}/health")[0] == 200
        workers = psutil.Process(server.process.pid).children()
        assert len(workers) == 1, f"{name}: {workers}"
        assert peak_mb(workers[0].pid) < PEAK_MB, f"{name}: {peak_mb(workers[0].pid):.0f} MB"
        server.check_alive()
    assert not marker.exists(), f"{name}: the payload ran"


def test_the_server_refuses_every_hostile_bundle_and_stays_up(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    jobs = [(name, source(name, request)) for name in NAMES]
    bodies = {src: example(src) for _, src in jobs}
    with ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(check, name, src, bodies[src], tmp_path / name) for name, src in jobs
        ]
        failures = [str(f.exception()) for f in futures if f.exception() is not None]
    assert not failures, "\n".join(failures)
