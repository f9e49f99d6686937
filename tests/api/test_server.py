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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import example
from tests.support.net import wait_until
from tests.support.processes import Server, run_api

pytestmark = pytest.mark.slow


@pytest.fixture
def server(model_dir: Path, tmp_path: Path) -> Iterator[Server]:
    with run_api(model_dir, tmp_path, env={"GRACEFUL_TIMEOUT": "20"}) as running:
        yield running


def prom_dir(server: Server) -> Path:
    return server.log.parent / "prometheus-multiproc"


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
    wait_until(lambda: metric(server.url, "http_requests_total", **labels) == n, 10, "all counts")
    assert metric(server.url, "model_prediction_confidence_count") == n
    shares = per_worker(prom_dir(server), "http_requests_total", **labels)
    assert sum(shares.values()) == n
    busy = [pid for pid, count in shares.items() if count > 0]
    assert len(busy) == 2 or len(pids) == 1, (shares, pids)  # both workers served and add up

    victim = busy[0]
    live_file = prom_dir(server) / f"gauge_livesum_{victim}.db"
    assert live_file.exists()
    os.kill(victim, signal.SIGKILL)
    wait_until(lambda: not live_file.exists(), 10, "mark_process_dead to remove the file")
    wait_until(
        lambda: fresh("GET", f"{server.url}/ready").status_code == 200
        and metric(server.url, "http_requests_total", **labels) == n,
        10,
        "the dead worker's counts to stay in the sum",
    )
    # Just this scrape (the other worker writes its count every 0.5 s).
    wait_until(lambda: metric(server.url, "http_requests_in_flight") == 1, 10, "in-flight = 1")


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
