"""Capture in a real server (`python -m api`, gunicorn + uvicorn workers) when things go wrong.

* The sink is an S3 bucket on moto's S3 server (a real HTTP server on 127.0.0.1 standing in
  for a cloud bucket; s3fs and botocore are the real clients): killed mid-traffic, every
  prediction still answers 200 and the rows that no longer fit are counted as dropped.
* SIGTERM mid-traffic: every row of every answered prediction, and every accepted label, is
  on disk once the server exited, from both workers.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_template.core import capture
from tests.feedback.conftest import KEY
from tests.support.net import free_port, http, http_json, http_status, wait_until
from tests.support.processes import Server
from tests.support.shell import BIN
from tests.support.traffic import records

pytestmark = pytest.mark.slow
AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_MAX_ATTEMPTS": "1",
}


@contextlib.contextmanager
def moto_s3(workdir: Path) -> Iterator[Server]:
    port = free_port()
    log = workdir / "moto.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server("moto", f"http://127.0.0.1:{port}", process, log)
    try:
        wait_until(lambda: http_status(server.url) in (200, 404), 30, "moto's S3 server")
        yield server
    finally:
        server.stop()


def make_bucket(endpoint: str, name: str) -> None:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, **_credentials())
    client.create_bucket(Bucket=name)


def _credentials() -> dict[str, str]:
    return {
        "aws_access_key_id": AWS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": AWS["AWS_SECRET_ACCESS_KEY"],
        "region_name": AWS["AWS_DEFAULT_REGION"],
    }


def metric(url: str, name: str, **labels: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    total = 0.0
    for family in text_string_to_metric_families(http(f"{url}/metrics")[1].decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_a_dead_bucket_never_fails_a_prediction_and_drops_are_counted(
    start_api: Any, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    card_data = json.loads((model_dir / "model_card.json").read_text())
    rows = records(card_data, 100, seed=1)
    with moto_s3(tmp_path) as s3:
        make_bucket(s3.url, "captured")
        env = {
            **AWS,
            "AWS_ENDPOINT_URL": s3.url,
            "FEEDBACK_KEY": KEY,
            "CAPTURE_ENABLED": "true",
            "CAPTURE_URL": "s3://captured/traffic",
            "CAPTURE_FILE_SECONDS": "1",
            "CAPTURE_BUFFER_ROWS": "300",
        }
        for name, value in env.items():  # for the reader in this process too
            monkeypatch.setenv(name, value)
        api = start_api(model_dir, workers=1, env=env)
        for _ in range(3):
            assert http_json(f"{api.url}/predict", {"records": rows})[0] == 200
        wait_until(
            lambda: metric(api.url, "model_capture_rows_total", outcome="written") >= 300,
            30,
            "the first rows in the bucket",
        )
        assert len(capture.read("s3://captured/traffic", capture.PREDICTIONS)) == 300
        s3.process.send_signal(signal.SIGKILL)
        s3.process.wait(10)
    started = time.monotonic()
    for _ in range(10):  # 1000 rows more than the buffer holds
        status, body = http_json(f"{api.url}/predict", {"records": rows}, timeout=5)
        assert status == 200 and len(body["predictions"]) == 100
    assert time.monotonic() - started < 20  # the dead sink slows nothing down much
    wait_until(
        lambda: metric(api.url, "model_capture_rows_total", outcome="dropped") >= 700,
        30,
        "the drops to be counted",
    )
    wait_until(  # s3fs and botocore retry a while before a write counts as failed
        lambda: metric(api.url, "model_capture_write_errors_total") >= 1, 90, "a failed write"
    )
    assert http_status(f"{api.url}/ready") == 200


def test_sigterm_mid_traffic_loses_no_answered_row(
    start_api: Any, model_dir: Path, tmp_path: Path
) -> None:
    card_data = json.loads((model_dir / "model_card.json").read_text())
    rows = records(card_data, 20, seed=2)
    folder = tmp_path / "capture"
    env = {
        "FEEDBACK_KEY": KEY,
        "CAPTURE_ENABLED": "true",
        "CAPTURE_URL": str(folder),
        "CAPTURE_FILE_SECONDS": "600",  # nothing is written before the shutdown
        "GRACEFUL_TIMEOUT": "30",
    }
    api = start_api(model_dir, workers=2, env=env)
    answered: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                status, body = http_json(f"{api.url}/predict", {"records": rows}, timeout=10)
            except OSError:  # the listener closed
                return
            if status == 200:
                with lock:
                    answered.extend(p["id"] for p in body["predictions"])

    labelled: list[str] = []

    def labeller() -> None:  # labels for answered rows, 20 a request, until the listener closes
        sent = 0
        while not stop.is_set():
            with lock:
                batch = answered[sent : sent + 20]
            if len(batch) < 20:
                time.sleep(0.01)
                continue
            sent += 20
            items = [{"id": i, "label": "benign"} for i in batch]
            try:
                status, body = http_json(f"{api.url}/feedback", {"feedback": items}, timeout=10)
            except OSError:
                return
            if status == 200:
                assert body["accepted"] == 20, body
                with lock:
                    labelled.extend(batch)

    threads = [threading.Thread(target=client) for _ in range(4)]
    threads.append(threading.Thread(target=labeller))
    for thread in threads:
        thread.start()
    wait_until(lambda: len(answered) >= 2000 and len(labelled) >= 200, 60, "traffic")
    api.process.send_signal(signal.SIGTERM)  # to the master, as `docker stop` / Kubernetes do
    assert api.process.wait(60) == 0
    stop.set()
    for thread in threads:
        thread.join(15)
    written = capture.read(str(folder), capture.PREDICTIONS)
    assert set(answered) <= set(written[capture.ID])
    assert len(written) >= len(answered) >= 2000
    assert written[capture.ID].is_unique
    # Every accepted label too (each label's worker flushed its own labels file).
    labels = capture.read(str(folder), capture.LABELS)
    assert set(labelled) <= set(labels[capture.ID])
    # Each worker flushed its own buffer into its own files (pid in the name).
    writers = {Path(p).name.split("-")[-2] for p in folder.glob("predictions/*/*.parquet")}
    sys.stderr.write(f"{len(answered)} rows answered, {len(written)} on disk from {writers}\n")
