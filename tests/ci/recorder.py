"""Recording stand-ins for the hosts a CI job talks to (GitLab's server can't run here).

`serve()` starts a real HTTP(S) server on 127.0.0.1 that records every request (method, path,
headers, body) and answers through a small routing function. Two kinds are used by the tests:

- a stand-in for GitLab: its REST API calls (merge requests, pipelines, uploads) and git's smart
  HTTP protocol, answered by the real `git http-backend` over a bare repository (so a push is a
  real push), optionally over TLS with a throw-away certificate (`tls_files`);
- an attacker's host: answers 200 to everything and records what it was sent.
"""

from __future__ import annotations

import json
import re
import ssl
import subprocess
import threading
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from tests.support.shell import require_tool


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = ()


Route = Callable[[Request], Answer]


@dataclass
class Server:
    url: str
    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def recorded(self) -> list[Request]:
        with self.lock:
            return list(self.requests)

    def credentials(self) -> list[str]:
        """Every Authorization / PRIVATE-TOKEN / JOB-TOKEN header value it received."""
        names = ("authorization", "private-token", "job-token", "proxy-authorization")
        return [r.headers[n] for r in self.recorded() for n in names if n in r.headers]


def json_answer(status: int, body: Any) -> Answer:
    return Answer(status, json.dumps(body).encode(), (("Content-Type", "application/json"),))


def anything(_: Request) -> Answer:
    """The attacker's host: accept whatever arrives."""
    return json_answer(200, [])


def tls_files(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (openssl CLI) and its key; the certificate is
    also the CA file a client must trust (GIT_SSL_CAINFO, SSL_CERT_FILE)."""
    cert, key = directory / "standin.crt", directory / "standin.key"
    openssl = require_tool("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    return cert, key


def git_backend(root: Path) -> Route:
    """git's smart HTTP protocol for the bare repositories under `root`, by `git http-backend`
    (CGI). Pushes are allowed (GitLab checks the token; this records it instead)."""

    def route(request: Request) -> Answer:
        env = {
            "GIT_PROJECT_ROOT": str(root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": "standin",  # http-backend refuses receive-pack without a user
            "REQUEST_METHOD": request.method,
            "PATH_INFO": urllib.parse.unquote(request.path),
            "QUERY_STRING": request.query,
            "CONTENT_TYPE": request.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(request.body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("content-encoding", ""),
            "GIT_PROTOCOL": request.headers.get("git-protocol", ""),
            "PATH": "/usr/bin:/bin",
        }
        done = subprocess.run(
            ["git", "http-backend"], input=request.body, env=env, capture_output=True, check=False
        )
        head, _, body = done.stdout.partition(b"\r\n\r\n")
        status, headers = 200, []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name, value.strip()))
        return Answer(status, body, tuple(headers))

    return route


def gitlab(git_root: Path) -> Route:
    """GitLab's API calls of the retrain job, plus git over HTTP for `<group>/<project>.git`."""
    backend = git_backend(git_root)
    uploads: list[int] = []

    def route(request: Request) -> Answer:
        if re.search(r"\.git/(info/refs|git-(upload|receive)-pack)$", request.path):
            return backend(request)
        if request.method == "GET" and request.path.endswith(("/merge_requests", "/pipelines")):
            return json_answer(200, [])
        if request.method == "POST" and request.path.endswith("/merge_requests"):
            return json_answer(201, {"iid": 1, "web_url": "https://standin/-/merge_requests/1"})
        if request.method == "POST" and request.path.endswith("/uploads"):
            uploads.append(1)
            name = f"plot{len(uploads)}.png"
            return json_answer(201, {"markdown": f"![{name}](/uploads/{len(uploads):032x}/{name})"})
        return json_answer(404, {"message": "404 Not Found"})

    return route


def _handler(server: Server, route: Route) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            parsed = urllib.parse.urlsplit(self.path)
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                body = self._chunked()
            else:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
            request = Request(
                self.command,
                parsed.path,
                parsed.query,
                {k.lower(): v for k, v in self.headers.items()},
                body,
            )
            with server.lock:
                server.requests.append(request)
            answer = route(request)
            self.send_response(answer.status)
            for name, value in answer.headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.body)))
            self.end_headers()
            self.wfile.write(answer.body)

        def _chunked(self) -> bytes:
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()  # the empty line after the last chunk
            return b"".join(chunks)

        do_GET = do_POST = do_PUT = do_DELETE = _handle  # noqa: N815 (http.server's naming)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
            """Quiet: the tests assert on the recorded requests."""

    return Handler


@contextmanager
def serve(route: Route = anything, tls: tuple[Path, Path] | None = None) -> Iterator[Server]:
    """A recording server on a free 127.0.0.1 port (https with `tls`), stopped after the block."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    server = Server(f"{'https' if tls else 'http'}://127.0.0.1:{httpd.server_address[1]}")
    httpd.RequestHandlerClass = _handler(server, route)
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*tls)
        httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
