"""The gunicorn worker (`worker_class` in api/gunicorn_conf.py): uvicorn's, plus a drain on
SIGTERM and read timeouts for slow clients.

SIGTERM (gunicorn forwards it from the master; Kubernetes and podman send it to the master):
/ready turns 503 at once, and the worker keeps accepting and answering for DRAIN_SECONDS so a
load balancer polling /ready stops sending before the listener closes; then uvicorn's graceful
shutdown lets in-flight requests finish (within GRACEFUL_TIMEOUT in all). A second SIGTERM does
not cut the drain short; SIGINT and SIGQUIT still stop at once.

Slow clients: uvicorn times out only idle keep-alive connections. Here a connection must send
a request's headers within HEADER_TIMEOUT of connecting or of starting the request, and its
body within BODY_TIMEOUT of the headers (checked once a second); otherwise it gets 408 and is
closed, so idle or trickling sockets can't pile up.

Big heads: httptools and uvicorn gather a request line and headers by concatenating the pieces
as they arrive, without a limit, so a client streaming a never-ending URL or header held the
event loop in quadratic copying (two such clients stalled /health for seconds) and grew the
worker's memory. A head larger than MAX_HEADER_BYTES gets 414 (URL) or 431 and is closed.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
import warnings
from collections.abc import Callable
from types import FrameType
from typing import Any

from gunicorn.arbiter import Arbiter
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import Server

from api import logs
from api.settings import Settings

with warnings.catch_warnings():  # deprecated in favour of the uvicorn-worker package, same code
    warnings.simplefilter("ignore", DeprecationWarning)
    from uvicorn.workers import UvicornWorker

TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 24\r\nconnection: close\r\n\r\nrequest sent too slowly\n"
)


def _refusal(status: str, text: str) -> bytes:
    body = f"{text} (MAX_HEADER_BYTES)\n".encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


URL_TOO_LONG = _refusal("414 URI Too Long", "request line too long")
HEAD_TOO_LARGE = _refusal("431 Request Header Fields Too Large", "request headers too large")


class TimedProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header and body read deadlines.

    The next request's headers are due HEADER_TIMEOUT after the connection opened or the last
    response ended (an idle kept-alive connection is closed sooner by uvicorn's keep-alive
    timeout); a request's body is due BODY_TIMEOUT after its headers. Setting a deadline is
    one attribute write per request; `DrainingServer` sweeps its connections once a second
    and cuts off the late ones.
    """

    header_timeout = 10.0
    body_timeout = 10.0
    max_header_bytes = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.headers_due = self.body_due = 0.0  # loop.time() deadlines
        self.in_head = True  # the parser is reading a request line and headers
        self.head_bytes = 0  # bytes received in chunks that were wholly head
        self.events = 0  # heads and messages completed on this connection

    def data_received(self, data: bytes) -> None:
        """uvicorn's, then the head limit. Only chunks that are head from start to end
        count (a chunk that also ends a body or a head is not counted): one read (at most
        256 kB) of slack, never a body counted as head."""
        events = self.events
        super().data_received(data)
        if self.in_head and events == self.events:
            self.head_bytes += len(data)
            if self.head_bytes > self.max_header_bytes and not self.transport.is_closing():
                long_url = len(getattr(self, "url", b"")) > self.max_header_bytes
                self.transport.write(URL_TOO_LONG if long_url else HEAD_TOO_LARGE)
                self.transport.close()

    def on_message_complete(self) -> None:
        self.in_head, self.events = True, self.events + 1
        super().on_message_complete()

    def too_slow(self, now: float) -> bool:
        """Cut the connection off if its deadline passed (408, then close); True if it did."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:  # a request in progress
            late = cycle.more_body and not cycle.response_started and now > self.body_due
        else:  # between requests: the next one's headers are due
            late = now > self.headers_due
        if not late or self.transport.is_closing():
            return False
        self.transport.write(TIMEOUT_RESPONSE)
        self.transport.close()  # the app's receive() then reports the disconnect
        return True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.headers_due = self.loop.time() + self.header_timeout

    def on_headers_complete(self) -> None:
        self.body_due = self.loop.time() + self.body_timeout
        self.in_head, self.head_bytes, self.events = False, 0, self.events + 1
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        self.headers_due = self.loop.time() + self.header_timeout
        # A body the app never read (a request shed before its body) would stay buffered in
        # the finished cycle until the connection's next request: up to ~300 kB per connection.
        if self.cycle is not None:
            self.cycle.body = bytearray()
        super().on_response_complete()


def timed_protocol(
    header_timeout: float, body_timeout: float, max_header_bytes: int = 65536
) -> type[TimedProtocol]:
    return type(
        "TimedProtocol",
        (TimedProtocol,),
        {
            "header_timeout": header_timeout,
            "body_timeout": body_timeout,
            "max_header_bytes": max_header_bytes,
        },
    )


class DrainingServer(Server):
    """uvicorn's Server that, on the first SIGTERM, drains for `drain_seconds` before exiting."""

    def __init__(self, config: Config, drain_seconds: float, on_drain: Callable[[], None]):
        super().__init__(config)
        self.drain_seconds, self.on_drain = drain_seconds, on_drain
        self.drain_until: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and self.drain_until is not None:
            return  # already draining
        if sig == signal.SIGTERM:
            self.on_drain()
            self.drain_until = time.monotonic() + self.drain_seconds
        super().handle_exit(sig, frame)  # records the signal (re-raised after shutdown)
        if sig == signal.SIGTERM and self.drain_seconds > 0:
            self.should_exit = False  # until on_tick sees the drain is over

    async def on_tick(self, counter: int) -> bool:
        if self.drain_until is not None and time.monotonic() >= self.drain_until:
            self.should_exit = True
        if counter % 10 == 0:  # once a second: cut off connections that send too slowly
            now = asyncio.get_running_loop().time()
            for connection in list(self.server_state.connections):
                if isinstance(connection, TimedProtocol):
                    connection.too_slow(now)
        return await super().on_tick(counter)


class Worker(UvicornWorker):
    """gunicorn's uvicorn worker with `TimedProtocol` and `DrainingServer`."""

    CONFIG_KWARGS: dict[str, Any] = {"loop": "auto", "http": "auto"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.settings = Settings()
        self.CONFIG_KWARGS = {
            **self.CONFIG_KWARGS,
            "http": timed_protocol(
                self.settings.header_timeout,
                self.settings.body_timeout,
                self.settings.max_header_bytes,
            ),
        }
        super().__init__(*args, **kwargs)
        logs.limit("uvicorn.error")  # a client's garbage requests must not fill the disk

    def _drain(self) -> None:
        lifecycle = getattr(getattr(self.wsgi, "state", None), "lifecycle", None)
        if lifecycle is not None:
            lifecycle.drain()
        self.log.info("SIGTERM: draining for %.1f s (/ready is 503)", self.settings.drain_seconds)

    async def _serve(self) -> None:  # uvicorn's, with DrainingServer
        self.config.app = self.wsgi
        server = DrainingServer(self.config, self.settings.drain_seconds, self._drain)
        self._install_sigquit_handler()
        await server.serve(sockets=self.sockets)
        if not server.started:
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
