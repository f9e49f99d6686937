"""Pure ASGI middleware (no BaseHTTPMiddleware: it costs a task per request).

`Observe` counts every request by route template, method and status, times it and tracks
requests in flight. `Admit` sheds prediction requests before their body is read when the
model's queue is full, and gives the others a deadline; it sheds /feedback too while the
model's queue is full, or past MAX_QUEUE /feedback requests in progress. `LimitBody` answers
413 for bodies over the limit, whether announced by Content-Length or streamed in chunks.
"""

from __future__ import annotations

import time

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.batcher import TICKET, Batcher, Ticket
from api.errors import BodyTooLarge, Overloaded, overloaded_response
from api.routes import FEEDBACK_PATH, infer_route, is_inference, is_v2
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
                path = getattr(scope.get("route"), "path", "") or infer_route(path)
            label = path if path in self.paths else "unmatched"
            self.telemetry.http(label, scope["method"], status, time.perf_counter() - started)


class Gate:
    """Where `Admit` finds the batcher, once the lifespan has made it (None: no model)."""

    batcher: Batcher | None = None


class Admit:
    """Shedding and deadlines for the batched paths, decided before the body is read.

    Past the queue's limits the answer is 503 + Retry-After at once: shedding costs almost
    nothing, so an overloaded worker keeps answering quickly instead of queueing without end.
    An admitted request gets its deadline (arrival + DEADLINE_SECONDS) and its `receive` as a
    `Ticket` the batcher reads, whichever route submits it.
    """

    def __init__(
        self, app: ASGIApp, telemetry: Telemetry, deadline: float, retry_after: int, gate: Gate
    ) -> None:
        self.app, self.telemetry, self.deadline = app, telemetry, deadline
        self.retry_after, self.gate = str(retry_after), gate
        self.feedback_active = 0  # /feedback requests reading their body or being checked

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_inference(scope["path"]):
            if scope["type"] == "http" and scope["path"] == FEEDBACK_PATH:
                await self._feedback(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        batcher = self.gate.batcher
        reason = batcher.refuse() if batcher is not None else None
        if reason is not None:
            self.telemetry.overloaded(reason)
            response = overloaded_response(str(Overloaded(reason)), self.retry_after, scope["path"])
            await response(scope, receive, send)
            return
        token = TICKET.set(Ticket(time.monotonic() + self.deadline, receive))
        if batcher is not None:
            batcher.admitted += 1
        try:
            await self.app(scope, receive, send)
        finally:
            TICKET.reset(token)
            if batcher is not None:
                batcher.admitted -= 1

    async def _feedback(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Labels can wait and be sent again; predictions can't. While the model's queue is
        full, a /feedback request (checked on the event loop, holding the GIL the model thread
        needs) is shed; and at most MAX_QUEUE of them are read or checked at once, each body up
        to MAX_BODY_BYTES."""
        batcher = self.gate.batcher
        if batcher is not None and (
            batcher.refuse() is not None or self.feedback_active >= batcher.max_queue
        ):
            self.telemetry.overloaded("feedback")
            response = overloaded_response(str(Overloaded("feedback")), self.retry_after, "")
            await response(scope, receive, send)
            return
        self.feedback_active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.feedback_active -= 1


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
