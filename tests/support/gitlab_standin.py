"""A recording stand-in for GitLab's REST API (GitLab's server can't run here).

It replaces GitLab at the network boundary: a real HTTP server on 127.0.0.1 that answers the
few endpoints the template calls (merge requests, pipelines, the webhook pipeline trigger)
and records every request it receives.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when received

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StandIn:
    """State and record of the stand-in; tests set `open_mrs` and read `requests`."""

    url: str = ""
    open_mrs: list[dict[str, Any]] = field(default_factory=list)
    running: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    def matching(self, method: str, pattern: str) -> list[Recorded]:
        with self.lock:
            return [r for r in self.requests if r.method == method and re.search(pattern, r.path)]

    def triggers(self) -> list[Recorded]:
        return self.matching("POST", r"/trigger/pipeline$")

    def uploads(self) -> list[Recorded]:
        return self.matching("POST", r"/uploads$")

    def merge_requests(self) -> list[Recorded]:
        return self.matching("POST", r"/merge_requests$")


def _handler(state: StandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _record(self) -> Recorded:
            parsed = urllib.parse.urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            rec = Recorded(
                method=self.command,
                path=parsed.path,
                query=dict(urllib.parse.parse_qsl(parsed.query)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length) if length else b"",
                at=time.time(),
            )
            with state.lock:
                state.requests.append(rec)
            return rec

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            rec = self._record()
            if rec.path.endswith("/merge_requests"):
                self._answer(200, state.open_mrs)
            elif rec.path.endswith("/pipelines"):
                self._answer(200, state.running)
            else:
                self._answer(404, {"message": "404 Not Found"})

        def do_POST(self) -> None:  # noqa: N802
            rec = self._record()
            if rec.path.endswith("/merge_requests"):
                iid = len(state.merge_requests())
                self._answer(201, {"iid": iid, "web_url": f"{state.url}/-/merge_requests/{iid}"})
            elif rec.path.endswith("/uploads"):
                found = re.search(rb'filename="([^"]+)"', rec.body)
                name = found.group(1).decode() if found else "file"
                secret = f"{len(state.uploads()):032x}"
                self._answer(
                    201,
                    {
                        "alt": name,
                        "url": f"/uploads/{secret}/{name}",
                        "markdown": f"![{name}](/uploads/{secret}/{name})",
                    },
                )
            elif rec.path.endswith("/trigger/pipeline"):
                self._answer(201, {"id": 1000 + len(state.triggers()), "status": "created"})
            else:
                self._answer(404, {"message": "404 Not Found"})

        def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
            return

    return Handler


@contextmanager
def serve() -> Iterator[StandIn]:
    """Run the stand-in on a free 127.0.0.1 port until the block ends."""
    state = StandIn()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
