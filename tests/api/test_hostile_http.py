"""Hostile HTTP against the real server (`python -m api`, one worker): what only a real
socket can send, and what the in-process client would clean up first (it refuses long URLs,
normalises `..`).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.api import record
from tests.support.net import http, wait_until
from tests.support.processes import Server, run_api

pytestmark = pytest.mark.slow

CHUNK = b"a" * 65536


def stream_until_answered(server: Server, start: bytes, most: int = 16 << 20) -> tuple[int, bytes]:
    """Send `start`, then `CHUNK`s that never end the head, until the server answers (or
    `most` bytes are sent). Returns (bytes sent, what the server answered)."""
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sent, answer = 0, b""
    try:
        sock.sendall(start)
        while sent < most:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            try:
                sock.sendall(CHUNK)
            except OSError:  # closed by the server: its answer is waiting
                break
            sent += len(CHUNK)
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except OSError:
            pass
    finally:
        sock.close()
    return sent, answer


def raw(server: Server, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


LIMIT = 65536


@pytest.fixture(scope="module")
def server(model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {"MAX_HEADER_BYTES": str(LIMIT), "MAX_QUEUE": "8", "BODY_TIMEOUT": "2"}
    with run_api(model_dir, tmp_path_factory.mktemp("api"), workers=1, env=env) as started:
        yield started


def test_an_endless_url_or_header_is_cut_off_while_health_answers(
    server: Server, model_dir: Path
) -> None:
    """Before: httptools and uvicorn gathered the head by concatenation, without a limit; two
    clients streaming a URL or a header held the worker's event loop for seconds."""
    results: dict[str, tuple[int, bytes]] = {}
    starts = {
        "url": b"GET /",
        "header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ",
        "headers": b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 20000,
    }

    def attack(name: str) -> None:
        results[name] = stream_until_answered(server, starts[name])

    threads = [threading.Thread(target=attack, args=(name,)) for name in starts]
    for thread in threads:
        thread.start()
    health = [http(server.url + "/health", timeout=10)[0] for _ in range(5)]
    for thread in threads:
        thread.join(60)
    # A head just under the limit, and a body far over it, are not heads too large.
    fits = raw(
        server,
        b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Fits: "
        + b"a" * (LIMIT - 200)
        + b"\r\n\r\n",
    )
    body = {"records": [record(model_dir)] * 256}
    assert len(json.dumps(body)) > 2 * LIMIT
    status, _ = http(server.url + "/predict", body)
    server.check_alive()
    assert health == [200] * 5
    assert results["url"][1].startswith(b"HTTP/1.1 414 "), results["url"][1][:100]
    assert b"MAX_HEADER_BYTES" in results["url"][1]
    for name in ("header", "headers"):
        assert results[name][1].startswith(b"HTTP/1.1 431 "), results[name][1][:100]
    # Answered while the client was still sending (what it sent is mostly in socket buffers).
    assert all(sent < 16 << 20 for sent, _ in results.values()), results
    assert fits.startswith(b"HTTP/1.1 200 ")
    assert status == 200


def test_clients_that_leave_mid_body_or_mid_batch_take_no_place_in_the_queue(
    server: Server, model_dir: Path
) -> None:
    """300 clients a route (MAX_QUEUE is 8) send their headers and leave: before the body, in
    the middle of it, or right after it (while their batch waits or runs). None may keep a
    place: afterwards every route answers 200, and nothing is left queued or in flight."""
    from api.state import read_card

    features = read_card(model_dir).features
    row = record(model_dir)
    tensors = [
        {"name": f.name, "shape": [256], "datatype": "FP64", "data": [row[f.name]] * 256}
        for f in features
    ]
    bodies = {
        "/predict": {"records": [row] * 256},
        "/v2/models/model/infer": {"inputs": tensors},
        "/feedback": {"feedback": [{"id": "x" * 40, "label": "benign"}] * 200},
    }

    def leave(path: str, data: bytes, cut: int) -> None:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n%s" % (path.encode(), len(data), data[:cut])
            )

    for path, body in bodies.items():
        data = json.dumps(body).encode()
        cuts = [0, len(data) // 2, len(data)] * 100
        threads = [threading.Thread(target=leave, args=(path, data, cut)) for cut in cuts]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)

    def settled() -> bool:
        text = http(server.url + "/metrics")[1].decode()
        return all(f"\n{name} 0.0" in text for name in ("model_queue_requests", "model_queue_rows"))

    wait_until(settled, 10, "the queue to empty")
    for path, body in bodies.items():
        status, answer = http(server.url + path, body)
        assert status == 200, (path, answer[:200])
    text = http(server.url + "/metrics")[1].decode()
    assert "http_requests_in_flight 1.0" in text  # this scrape only
    assert 'route="/predict",status="499"' in text  # the ones that left were noticed
    server.check_alive()


def test_garbage_requests_by_the_hundred_write_a_line_or_two_to_the_log(server: Server) -> None:
    """uvicorn logs a warning per malformed request: a client sending garbage in a loop wrote
    one log line per request (a disk that fills). Each still gets its 400."""
    answers = [raw(server, b"NOT HTTP AT ALL\r\n\r\n") for _ in range(300)]
    assert all(a.startswith(b"HTTP/1.1 400 ") for a in answers), {a[:40] for a in answers}
    server.check_alive()
    text = server.log.read_text(errors="replace")
    assert 1 <= text.count("Invalid HTTP request received.") <= 2, server.log_tail()
