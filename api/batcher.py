"""Dynamic batching, bounded: prediction calls that arrive while the model thread is busy share
its next run, and the queue, the rows per run and the time a call may wait are all limited.

Each call's body, with the codec of its protocol (`/predict` or the Open Inference Protocol,
see `api.codecs`), goes into a queue; one drain task hands everything queued to a single worker
thread, which parses the new bodies, drops the calls whose deadline can't be met or whose
client left (noticed for calls that waited WATCH_AFTER), runs the model once on at most
MAX_RUN_ROWS rows, and splits the answers; calls that did not fit wait, parsed, at the front
of the queue. When idle a call runs at once, alone
(no timer, no added latency). The model never runs on the event loop.

Admission (`refuse`) is asked by `api.middleware.Admit` before a request body is read: past
MAX_QUEUE admitted requests (reading their body, waiting or running) or MAX_QUEUE_ROWS parsed
rows not yet answered, the request gets 503 + Retry-After at once. The middleware also gives
each request its deadline and its `receive` (to notice a client that leaves) through `TICKET`,
so any route calling `submit` gets the same handling.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any, NamedTuple

from fastapi.exceptions import RequestValidationError
from starlette.types import Receive

from api.codecs import Codec, InputError, Reply
from api.errors import ClientGone, DeadlinePassed, Overloaded
from api.feedback.ledger import Ledger
from api.records import Parser, Records
from api.routes.predict import PredictCodec, answer_many
from api.settings import Settings
from api.state import Loaded
from api.telemetry.recorder import Telemetry


class Ticket(NamedTuple):
    """What the middleware knows about a request: when it must be answered, and its receive."""

    deadline: float  # time.monotonic()
    receive: Receive | None = None


TICKET: ContextVar[Ticket | None] = ContextVar("ticket", default=None)


# A call that has waited this long gets a task that notices its client leaving (a task for
# every call would cost more than it saves when calls are answered within milliseconds).
WATCH_AFTER = 0.1


class Job:
    """One call in the queue (a plain class with slots: one is made per request)."""

    __slots__ = (
        "body", "codec", "future", "deadline", "arrived", "receive", "records", "reply", "watch",
        "gone",
    )  # fmt: skip

    def __init__(
        self,
        body: bytes,
        codec: Codec,
        future: asyncio.Future[bytes],
        deadline: float,
        arrived: float,
    ) -> None:
        self.body, self.codec, self.future = body, codec, future
        self.deadline, self.arrived = deadline, arrived
        self.receive: Receive | None = None
        self.records: Records | None = None  # parsed by the codec in the model thread
        self.reply: Reply | None = None
        self.watch: asyncio.Task[None] | None = None
        self.gone = False  # the client disconnected before the model ran


class Batcher:
    def __init__(
        self,
        parser: Parser,
        model: Loaded,
        telemetry: Telemetry,
        settings: Settings,
        ledger: Ledger,
    ) -> None:
        self.parser, self.model, self.telemetry, self.ledger = parser, model, telemetry, ledger
        self.predict = PredictCodec(parser, model)
        self.max_queue, self.max_queue_rows = settings.max_queue, settings.max_queue_rows
        self.max_run_rows, self.deadline = settings.max_run_rows, settings.deadline_seconds
        # One thread: the work holds the GIL, so more threads only add contention.
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="predict")
        self.queue: deque[Job] = deque()
        self.admitted = 0  # requests admitted by the middleware and not answered yet
        self.running = 0  # jobs handed to the model thread
        self.rows = 0  # parsed rows waiting in the queue
        self.busy_since: float | None = None  # when the current hand-off to the thread began
        # Recent time of one hand-off to the thread and back (moving average): a job whose
        # deadline comes sooner than that from now can't be answered in time.
        self.cycle_seconds = 0.0
        self.draining = False

    # -- admission and health (event loop) ---------------------------------------------------

    def refuse(self) -> str | None:
        """Why a new request must be shed now, or None to admit it. Admitted requests count
        from their headers on (a body being read takes a place too), so the bound is strict."""
        if max(self.admitted, len(self.queue) + self.running) >= self.max_queue:
            return "queue_requests"
        if self.rows >= self.max_queue_rows:
            return "queue_rows"
        return None

    def depth(self) -> tuple[int, int]:
        """(requests waiting for or in the model thread, parsed rows waiting)."""
        return len(self.queue) + self.running, self.rows

    def busy_for(self) -> float:
        """Seconds the model thread has been on its current hand-off (0 when idle)."""
        since = self.busy_since
        return 0.0 if since is None else time.monotonic() - since

    # -- requests ----------------------------------------------------------------------------

    async def submit(self, body: bytes, codec: Codec | None = None) -> bytes:
        """The answer for `body` (a /predict body unless `codec` says otherwise); raises the
        error its request deserves."""
        if len(self.queue) + self.running >= self.max_queue:  # admitted, but others came first
            self.telemetry.overloaded("queue_requests")
            raise Overloaded("queue_requests")
        ticket = TICKET.get()
        now = time.monotonic()
        loop = asyncio.get_running_loop()
        job = Job(body, codec or self.predict, loop.create_future(), now + self.deadline, now)
        if ticket is not None:
            job.deadline, job.receive = ticket.deadline, ticket.receive
        self.queue.append(job)
        if not self.draining:
            self.draining = True
            loop.create_task(self._drain())
        try:
            return await job.future
        finally:
            if job.watch is not None:
                job.watch.cancel()

    async def _watch(self, receive: Receive, job: Job) -> None:
        """After the body, the next message is the disconnect: drop the job if it comes first."""
        message = await receive()
        if message["type"] == "http.disconnect" and not job.future.done():
            job.gone = True
            self.telemetry.expired("disconnected")
            job.future.set_exception(ClientGone())

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.queue:
                if self._watch_long_waits():
                    await asyncio.sleep(0)  # a client that already left is noticed right here
                jobs = list(self.queue)
                self.queue.clear()
                started = time.monotonic()
                self.running, self.busy_since = len(jobs), started
                try:
                    done, rest = await loop.run_in_executor(self.executor, self._work, jobs)
                except Exception as exc:  # a bug in the batch run: every caller gets it
                    done, rest = [(job, exc) for job in jobs], []
                finally:
                    self.running, self.busy_since = 0, None
                seconds = time.monotonic() - started
                self.cycle_seconds = 0.7 * self.cycle_seconds + 0.3 * seconds
                self.queue.extendleft(reversed(rest))
                self.rows = sum(len(j.records) for j in self.queue if j.records is not None)
                for job, result in done:
                    if job.future.done():  # the client went away
                        continue
                    if isinstance(result, BaseException):
                        job.future.set_exception(result)
                    else:
                        job.future.set_result(result)
        finally:
            self.draining = False

    def _watch_long_waits(self) -> bool:
        """Start a disconnect watch for each queued call waiting longer than WATCH_AFTER."""
        started = False
        old = time.monotonic() - WATCH_AFTER
        for job in self.queue:
            if job.watch is None and job.receive is not None and job.arrived < old:
                job.watch = asyncio.get_running_loop().create_task(self._watch(job.receive, job))
                started = True
        return started

    # -- the model thread --------------------------------------------------------------------

    def _work(self, jobs: list[Job]) -> tuple[list[tuple[Job, Any]], list[Job]]:
        """Parse new bodies, drop late or abandoned calls, run the model on up to
        max_run_rows rows. Returns (job, answer or error) pairs and the jobs left for later."""
        done: list[tuple[Job, Any]] = []
        valid: list[Job] = []
        for job in jobs:
            if job.gone:
                continue
            if job.records is None:
                try:
                    job.records, job.reply = job.codec.read(job.body)
                except (RequestValidationError, InputError) as exc:
                    done.append((job, exc))
                    continue
            valid.append(job)
        now = time.monotonic()
        take: list[Job] = []
        rest: list[Job] = []
        rows = late = 0
        for job in valid:
            assert job.records is not None
            if now + self.cycle_seconds > job.deadline:  # it could not be answered in time
                done.append((job, DeadlinePassed(self.deadline)))
                late += 1
            elif rest or (take and rows + len(job.records) > self.max_run_rows):
                rest.append(job)
            else:
                take.append(job)
                rows += len(job.records)
        if late:
            self.telemetry.expired("deadline", late)
        if take:
            requests = [(j.records, j.reply) for j in take if j.records is not None and j.reply]
            answers = answer_many(requests, self.model, self.telemetry, self.ledger)
            done += list(zip(take, answers))
        return done, rest

    def close(self) -> None:
        self.executor.shutdown(wait=True)
