"""Dynamic batching: inference calls that arrive while the model thread is busy share its next run.

Each call's body (with the codec of its protocol: /predict or the Open Inference Protocol)
goes into a queue; one drain task hands everything queued to a single
worker thread, which validates each body, runs the model once on all valid records, and
splits the answers. Under load this amortises the thread hand-off, numpy's per-call cost
and the metric updates over many requests; when idle a call runs at once, alone (no timer,
no added latency). The model never runs on the event loop.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from api.codecs import Codec
from api.feedback.ledger import Ledger
from api.telemetry.recorder import Telemetry
from api.records import Parser
from api.routes.predict import PredictCodec, handle_many
from api.state import Loaded


class Batcher:
    def __init__(self, parser: Parser, model: Loaded, telemetry: Telemetry, ledger: Ledger) -> None:
        self.parser, self.model, self.telemetry, self.ledger = parser, model, telemetry, ledger
        self.predict = PredictCodec(parser, model)
        # One thread: the work holds the GIL, so more threads only add contention.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self.pending: list[tuple[bytes, Codec, asyncio.Future[bytes]]] = []
        self.draining = False

    async def submit(self, body: bytes, codec: Codec | None = None) -> bytes:
        """The answer for `body` (a /predict body unless `codec` says otherwise); raises the
        error its request deserves."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bytes] = loop.create_future()
        self.pending.append((body, codec or self.predict, future))
        if not self.draining:
            self.draining = True
            loop.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                try:
                    results: list[Any] = await loop.run_in_executor(
                        self.executor,
                        handle_many,
                        [(body, codec) for body, codec, _ in batch],
                        self.model,
                        self.telemetry,
                        self.ledger,
                    )
                except Exception as exc:  # a bug in the batch run: every caller gets it
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results):
                    if future.done():  # the client went away
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.draining = False

    def close(self) -> None:
        self.executor.shutdown(wait=True)
