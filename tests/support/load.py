"""A load generator and a prober, each run as its own process (`python -m tests.support.load`), so
what they time is not slowed by the test or the server sharing their interpreter.

    python -m tests.support.load load URL BODY_FILE --clients 300 --seconds 10 --out FILE
        [--stop-file PATH]  stop starting requests once PATH exists (a balancer saw /ready 503)
    python -m tests.support.load probe URL --paths /health,/ready --seconds 10 --out FILE

`load`: each client keeps one HTTP/1.1 connection and POSTs the body again as soon as it has
its answer; after a 503 it waits what Retry-After says (times 0.5 … 1, so clients spread out;
`--hammer`: 50 ms, ignoring Retry-After); every
request is one JSON row [start, seconds, status, retry_after, error], where status 0 means no
complete answer (error says why). `probe`: GETs each path every 50 ms on its own connection,
rows [start, path, seconds, status]. Raw asyncio streams: no client library in the numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

Row = list[Any]


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    """Status and headers of one response; its body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    await reader.readexactly(int(headers.get("content-length", "0")))
    return status, headers


def request(method: str, url: str, body: bytes = b"") -> bytes:
    parts = urlsplit(url)
    head = f"{method} {parts.path or '/'} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


async def client(
    url: str, body: bytes, until: float, stop: Path | None, rows: list[Row], hammer: bool
) -> None:
    parts = urlsplit(url)
    payload = request("POST", url, body)
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    while time.monotonic() < until and not (stop is not None and stop.exists()):
        started = time.monotonic()
        try:
            if connection is None:
                connection = await asyncio.open_connection(parts.hostname, parts.port)
            reader, writer = connection
            writer.write(payload)
            await writer.drain()
            status, headers = await read_response(reader)
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
            rows.append([started, time.monotonic() - started, 0, None, type(exc).__name__])
            connection = None
            await asyncio.sleep(0.05)
            continue
        rows.append([started, time.monotonic() - started, status, headers.get("retry-after"), ""])
        if headers.get("connection", "").lower() == "close":
            connection[1].close()
            connection = None
        if status == 503:
            wait = float(headers.get("retry-after") or 1) * random.uniform(0.5, 1.0)
            await asyncio.sleep(0.05 if hammer else min(wait, max(until - time.monotonic(), 0)))
    if connection is not None:
        connection[1].close()


async def load(
    url: str, body: bytes, clients: int, seconds: float, stop: Path | None, hammer: bool
) -> list[Row]:
    rows: list[Row] = []
    until = time.monotonic() + seconds
    await asyncio.gather(*(client(url, body, until, stop, rows, hammer) for _ in range(clients)))
    return rows


async def probe(url: str, paths: list[str], seconds: float) -> list[Row]:
    rows: list[Row] = []
    parts = urlsplit(url)
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        for path in paths:
            started = time.monotonic()
            try:
                reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                writer.write(request("GET", url.rstrip("/") + path))
                await writer.drain()
                status, _ = await read_response(reader)
                writer.close()
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
                status = 0
            rows.append([started, path, time.monotonic() - started, status])
        await asyncio.sleep(0.05)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("load", "probe"))
    parser.add_argument("url")
    parser.add_argument("body", nargs="?", type=Path)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--paths", default="/health")
    parser.add_argument("--stop-file", type=Path)
    parser.add_argument("--hammer", action="store_true", help="ignore Retry-After (wait 50 ms)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    try:
        from uvloop import run
    except ImportError:
        run = asyncio.run
    if args.mode == "load":
        body = args.body.read_bytes()
        rows = run(load(args.url, body, args.clients, args.seconds, args.stop_file, args.hammer))
    else:
        rows = run(probe(args.url, args.paths.split(","), args.seconds))
    args.out.write_text(json.dumps({"clock": time.monotonic(), "rows": rows}))


if __name__ == "__main__":
    main()
