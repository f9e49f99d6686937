"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

`Observe` counts every request by route template, method and status, times it and tracks
requests in flight. `LimitBody` answers 413 for bodies over the limit, whether announced
by Content-Length or streamed in chunks.
"""

from __future__ import annotations

import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import BodyTooLarge
from api.routes import is_inference, is_v2
from api.telemetry.recorder import Telemetry


class Observe:
    def __init__(self, app: ASGIApp, telemetry: Telemetry, paths: frozenset[str]) -> None:
        self.app, self.telemetry, self.paths = app, telemetry, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        self.telemetry.active += 1
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.telemetry.active -= 1
            # The route template is the label (the path itself for routes without path
            # parameters; the V2 routes' template, e.g. /v2/models/{name}/infer, for the
            # others). Unknown paths share one label, so scanners can't blow up the series.
            path = scope["path"]
            if path not in self.paths:
                path = getattr(scope.get("route"), "path", "")
            label = path if path in self.paths else "unmatched"
            self.telemetry.http(label, scope["method"], status, time.perf_counter() - started)


class LimitBody:
    def __init__(self, app: ASGIApp, limit: int, telemetry: Telemetry) -> None:
        self.app, self.limit, self.telemetry = app, limit, telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for key, value in scope["headers"]:
            if key == b"content-length" and value.isdigit() and int(value) > self.limit:
                if is_inference(scope["path"]):
                    self.telemetry.rejected("body_too_large")
                error = BodyTooLarge(self.limit)
                key = "error" if is_v2(scope["path"]) else "detail"  # the V2 protocol's shape
                response = JSONResponse({key: error.detail}, status_code=413)
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)  # FastAPI re-raises HTTPExceptions here
            return message

        await self.app(scope, receive if self.limit <= 0 else limited, send)
