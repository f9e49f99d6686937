"""Hostile HTTP against the real server (`python -m api`, one worker): what only a real
socket can send, and what the in-process client would clean up first (it refuses long URLs,
normalises `..`).
"""

from __future__ import annotations

import json
import select
import socket
import threading
from pathlib import Path

import pytest

from tests.support.api import record
from tests.support.net import http
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


def test_an_endless_url_or_header_is_cut_off_while_health_answers(
    model_dir: Path, tmp_path: Path
) -> None:
    """Before: httptools and uvicorn gathered the head by concatenation, without a limit; two
    clients streaming a URL or a header held the worker's event loop for seconds."""
    limit = 65536
    env = {"MAX_HEADER_BYTES": str(limit)}
    with run_api(model_dir, tmp_path / "run", workers=1, env=env) as server:
        results: dict[str, tuple[int, bytes]] = {}
        starts = {
            "url": b"GET /",
            "header": b"GET /health HTTP/1.1\r\nHost: x\r\nX-Long: ",
            "headers": b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-Many: 1\r\n" * 10,
        }

        def attack(name: str) -> None:
            start = starts[name]
            if name == "headers":  # many short headers rather than one long one
                start += b"X-Many: 1\r\n" * 20000
            results[name] = stream_until_answered(server, start)

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
            + b"a" * (limit - 200)
            + b"\r\n\r\n",
        )
        body = json.dumps({"records": [record(model_dir)] * 256}).encode()
        assert len(body) > 2 * limit
        status, _ = http(server.url + "/predict", {"records": [record(model_dir)] * 256})
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
