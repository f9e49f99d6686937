"""`python -m api` as a real process: gunicorn + 2 uvicorn workers on a free port.

Metrics merge over workers (Prometheus multiprocess mode), a killed worker is cleaned up,
SIGTERM lets an in-flight request finish, and schemathesis finds no 5xx or schema violation.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from api_helpers import ROOT, example
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    prom_dir: Path
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start_server(model_dir: Path, tmp: Path, workers: int = 2, **env: str) -> Server:
    port = free_port()
    prom_dir = tmp / "prom"
    log = tmp / "server.log"
    environment = {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WORKERS": str(workers),
        "MODEL_DIR": str(model_dir),
        "PROMETHEUS_MULTIPROC_DIR": str(prom_dir),
        "GRACEFUL_TIMEOUT": "20",
        **env,
    }
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(
            [sys.executable, "-m", "api"],
            cwd=ROOT,
            env=environment,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, f"http://127.0.0.1:{port}", port, prom_dir, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{server.url}/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise AssertionError(f"server not ready:\n{log.read_text()}")


def stop_server(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        try:
            server.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


@pytest.fixture
def server(model_dir: Path, tmp_path: Path) -> Iterator[Server]:
    running = start_server(model_dir, tmp_path)
    yield running
    stop_server(running)


def fresh(method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on its own connection, so the kernel may hand it to any worker."""
    with httpx.Client(timeout=10) as client:
        return client.request(method, url, **kwargs)


def metric(url: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(fresh("GET", f"{url}/metrics").text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def eventually(check: Callable[[], bool], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def per_worker(prom_dir: Path, name: str, **labels: str) -> dict[int, float]:
    """A counter's value in each worker's own file (what MultiProcessCollector sums)."""
    out: dict[int, float] = {}
    for path in prom_dir.glob("counter_*.db"):
        pid = int(path.stem.split("_")[1])
        for family in MultiProcessCollector.merge([str(path)], accumulate=True):
            for s in family.samples:
                if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                    out[pid] = out.get(pid, 0.0) + s.value
    return out


def test_metrics_add_up_over_workers_and_dead_workers_are_cleaned_up(
    server: Server, model_dir: Path
) -> None:
    body = example(model_dir)
    pids = {fresh("GET", f"{server.url}/health").json()["pid"] for _ in range(20)}
    n = 60
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: fresh("POST", f"{server.url}/predict", json=body), range(n))
        )
    assert {r.status_code for r in statuses} == {200}
    labels = {"route": "/predict", "method": "POST", "status": "200"}
    assert eventually(lambda: metric(server.url, "http_requests_total", **labels) == n)
    assert metric(server.url, "model_prediction_confidence_count") == n
    shares = per_worker(server.prom_dir, "http_requests_total", **labels)
    assert sum(shares.values()) == n
    busy = [pid for pid, count in shares.items() if count > 0]
    assert len(busy) == 2 or len(pids) == 1, (shares, pids)  # both workers served and add up

    victim = busy[0]
    live_file = server.prom_dir / f"gauge_livesum_{victim}.db"
    assert live_file.exists()
    os.kill(victim, signal.SIGKILL)
    assert eventually(lambda: not live_file.exists()), "mark_process_dead did not run"
    assert eventually(
        lambda: fresh("GET", f"{server.url}/ready").status_code == 200
        and metric(server.url, "http_requests_total", **labels) == n
    ), "the dead worker's counts must stay in the sum"
    # Just this scrape (the other worker writes its count every 0.5 s).
    assert eventually(lambda: metric(server.url, "http_requests_in_flight") == 1)


def test_sigterm_lets_the_in_flight_request_finish(server: Server, model_dir: Path) -> None:
    body = json.dumps(example(model_dir)).encode()
    half = len(body) // 2
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as conn:
        head = (
            f"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        conn.sendall(head + body[:half])
        time.sleep(1.0)  # the request is in the app, waiting for the rest of its body
        server.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        assert server.process.poll() is None, "exited with a request in flight"
        conn.sendall(body[half:])
        response = b""
        while b"\r\n\r\n" not in response or not response.rstrip().endswith(b"}"):
            chunk = conn.recv(65536)
            if not chunk:
                break
            response += chunk
    assert response.startswith(b"HTTP/1.1 200"), response[:200]
    assert b'"predictions"' in response
    assert server.process.wait(timeout=30) == 0


def test_schemathesis_finds_no_server_errors_or_schema_violations(server: Server) -> None:
    command = [
        str(Path(sys.executable).with_name("schemathesis")),  # a Python dependency, in the venv
        "run",
        f"{server.url}/openapi.json",
        "--checks",
        "not_a_server_error,status_code_conformance,content_type_conformance,"
        "response_schema_conformance,negative_data_rejection",
        "--max-examples",
        "50",
        "--seed",
        "1",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
