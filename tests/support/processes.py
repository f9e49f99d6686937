"""Servers the tests start as real processes, each stopped when its context exits."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.net import free_port, http_status, wait_until
from tests.support.shell import ROOT


@dataclass
class Server:
    """A process we started; `stop()` ends it (SIGTERM, then SIGKILL) and closes its log."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def address(self) -> str:
        return self.url.removeprefix("http://")

    @property
    def port(self) -> int:
        return int(self.address.rsplit(":", 1)[1])

    def stop(self, timeout: float = 15.0) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise AssertionError(
                f"{self.name} exited ({self.process.returncode}):\n{self.log_tail()}"
            )


@contextlib.contextmanager
def launch(
    name: str, cmd: list[str], url: str, ready_path: str, log: Path, env: Mapping[str, str]
) -> Iterator[Server]:
    """Start `cmd` in its own process group; wait until GET url+ready_path answers 200."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(env),
            cwd=ROOT,
            start_new_session=True,
        )
    server = Server(name, url, process, log)
    try:

        def ready() -> bool:
            server.check_alive()
            return http_status(url + ready_path) == 200

        try:
            wait_until(ready, 90, f"{name} at {url}{ready_path}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{server.log_tail()}") from None
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def run_api(
    model_dir: Path,
    workdir: Path,
    workers: int = 2,
    env: Mapping[str, str] | None = None,
    wait_path: str = "/ready",
) -> Iterator[Server]:
    """`python -m api` (gunicorn + uvicorn workers, multiprocess metrics) on `model_dir`,
    returned once `wait_path` answers 200 (`/health` for a server that must refuse its model).
    DRAIN_SECONDS is 0 unless `env` sets it, so stopping a test server takes no drain pause."""
    port = free_port()
    multiproc = workdir / "prometheus-multiproc"
    shutil.rmtree(multiproc, ignore_errors=True)
    multiproc.mkdir(parents=True)
    full_env = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "MODEL_DIR": str(model_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc),
        "DRAIN_SECONDS": "0",
        **(env or {}),
    }
    cmd = [sys.executable, "-m", "api"]
    with launch(
        "api", cmd, f"http://127.0.0.1:{port}", wait_path, workdir / "api.log", full_env
    ) as s:
        yield s
