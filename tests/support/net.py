"""Free ports on 127.0.0.1 and small HTTP helpers (urllib: no client library to trust)."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll `check` until it returns something truthy; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, urllib.error.URLError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


def http(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, bytes]:
    """(status, body) of a GET, or of a JSON POST when `body` is given. 4xx/5xx don't raise;
    a connection error does (URLError, an OSError)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return int(exc.code), exc.read()


def http_json(url: str, body: Any = None, timeout: float = 10.0) -> tuple[int, Any]:
    """(status, parsed JSON or None) of `http`."""
    status, payload = http(url, body, timeout)
    return status, json.loads(payload) if payload.startswith((b"{", b"[", b"null")) else None


def http_status(url: str, timeout: float = 2.0) -> int:
    """Status code of a GET (0 when nothing answers)."""
    try:
        return http(url, timeout=timeout)[0]
    except OSError:  # urllib.error.URLError is an OSError
        return 0
