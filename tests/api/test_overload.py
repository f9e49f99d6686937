"""Overload, deadlines, abandoned requests, the watchdog and draining, in-process.

The model thread is held on purpose (a job that waits for an event is put in its executor: what
a stuck or very slow model looks like from the event loop), so each situation is exact. Raw ASGI
calls (through the TestClient's event loop) show what the server reads and sends. The same
behaviour under real load, SIGTERM and slow sockets is in test_overload_server.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import asyncio
import orjson
import pytest

from api.batcher import Batcher
from tests.support.api import (
    JSON,
    ClientFn,
    TestClient,
    example,
    scrape,
    value,
    post_scope,
    wait_for,
)


class Held:
    """The model thread, held until `release()` (or the end of the test)."""

    def __init__(self, client: TestClient) -> None:
        self.batcher: Batcher = client.app.state.batcher  # type: ignore[attr-defined]
        self.event = threading.Event()
        self.batcher.executor.submit(self.event.wait)

    def release(self) -> None:
        self.event.set()


@pytest.fixture
def hold() -> Iterator[Callable[[TestClient], Held]]:
    held: list[Held] = []

    def make(client: TestClient) -> Held:
        held.append(Held(client))
        return held[-1]

    yield make
    for h in held:
        h.release()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(8) as executor:
        yield executor


def post(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/predict", content=orjson.dumps(body), headers=JSON)


def raw_predict(
    client: TestClient, body: bytes, leave: asyncio.Event | None = None
) -> dict[str, Any]:
    """POST /predict as a bare ASGI call; records every receive() and what is sent. With
    `leave`, the client disconnects once that event is set (after sending its body)."""
    calls: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        calls.append("receive")
        if len(calls) == 1:
            return {"type": "http.request", "body": body, "more_body": False}
        if leave is not None:
            await leave.wait()
        else:
            await anyio.sleep_forever()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = post_scope("/predict", body)
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]
    start = next(m for m in sent if m["type"] == "http.response.start")
    return {"status": start["status"], "headers": dict(start["headers"]), "receives": len(calls)}


def test_a_full_queue_sheds_before_the_body_is_read_and_ready_stays_200(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, max_queue=1)
    held = hold(client)
    first = pool.submit(post, client, example(model_dir))
    wait_for(lambda: held.batcher.depth()[0] == 1)
    shed = raw_predict(client, orjson.dumps(example(model_dir)))
    assert shed["status"] == 503
    assert shed["headers"][b"retry-after"] == b"1"
    assert shed["receives"] == 0, "the body was read before shedding"
    assert client.get("/ready").status_code == 200, "a full queue must not pull the replica"
    held.release()
    assert first.result(10).status_code == 200
    assert value(scrape(client), "model_requests_rejected_total", reason="queue_requests") == 1


def test_rows_waiting_are_bounded_too(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    """Requests that don't fit one run wait parsed; past MAX_QUEUE_ROWS rows, new ones are shed
    (before their body is read) even though few requests wait."""
    client = client_for(model_dir, max_batch=4, max_run_rows=4, max_queue_rows=6)
    held = hold(client)
    backend = held.batcher.model.backend
    run, runs, third = backend.run, [], threading.Event()

    def gated(records: Any) -> Any:  # the third run waits, with 8 parsed rows not yet run
        runs.append(len(records))
        if len(runs) == 3:
            third.wait(10)
        return run(records)

    backend.run = gated  # type: ignore[method-assign]
    four = {"records": example(model_dir)["records"] * 4}
    try:
        calls = [pool.submit(post, client, four)]
        wait_for(lambda: held.batcher.depth()[0] == 1)
        calls += [pool.submit(post, client, four) for _ in range(3)]
        wait_for(lambda: held.batcher.depth()[0] == 4)
        held.release()
        wait_for(lambda: len(runs) == 3)
        assert held.batcher.depth() == (2, 8)
        shed = raw_predict(client, orjson.dumps(four))
        assert shed["status"] == 503 and shed["receives"] == 0
        third.set()
        assert [c.result(10).status_code for c in calls] == [200] * 4
    finally:
        third.set()
        del backend.run
    assert value(scrape(client), "model_requests_rejected_total", reason="queue_rows") == 1


def test_each_model_run_takes_at_most_max_run_rows(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, max_batch=4, max_run_rows=4)
    held = hold(client)
    backend = held.batcher.model.backend
    sizes: list[int] = []
    run = backend.run

    def counted(records: Any) -> Any:
        sizes.append(len(records))
        return run(records)

    backend.run = counted  # type: ignore[method-assign]
    try:
        three = {"records": example(model_dir)["records"] * 3}
        calls = [pool.submit(post, client, three) for _ in range(5)]
        wait_for(lambda: held.batcher.depth()[0] == 5)
        held.release()
        answers = [c.result(10) for c in calls]
    finally:
        del backend.run
    assert [a.status_code for a in answers] == [200] * 5
    assert all(len(a.json()["predictions"]) == 3 for a in answers)
    assert sizes and max(sizes) <= 4 and sum(sizes) == 15


def test_a_request_past_its_deadline_is_dropped_before_inference(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, deadline_seconds=0.2)
    held = hold(client)
    late = pool.submit(post, client, example(model_dir))
    time.sleep(0.4)
    held.release()
    answer = late.result(10)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert "DEADLINE_SECONDS" in answer.json()["detail"]
    samples = scrape(client)
    assert value(samples, "model_requests_expired_total", reason="deadline") == 1
    assert sum(v for (name, _), v in samples.items() if name == "model_predictions_total") == 0


def test_a_client_that_leaves_while_waiting_is_dropped_before_inference(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    """Noticed once it has waited WATCH_AFTER (before its turn comes): never run."""
    client = client_for(model_dir)
    held = hold(client)
    first = pool.submit(post, client, example(model_dir))
    wait_for(lambda: held.batcher.depth()[0] == 1)
    leave: asyncio.Event = client.portal.call(asyncio.Event)  # type: ignore[union-attr]
    body = orjson.dumps({"records": example(model_dir)["records"] * 5})
    gone = pool.submit(raw_predict, client, body, leave)
    wait_for(lambda: held.batcher.depth()[0] == 2)
    time.sleep(0.2)
    client.portal.call(leave.set)  # type: ignore[union-attr]
    held.release()
    assert gone.result(10)["status"] == 499
    assert first.result(10).status_code == 200
    samples = scrape(client)
    assert value(samples, "model_requests_expired_total", reason="disconnected") == 1
    predicted = sum(v for (n, _), v in samples.items() if n == "model_predictions_total")
    assert predicted == 1, "the abandoned request's 5 rows were run"


def test_ready_is_503_while_the_model_thread_is_stuck_then_200(
    client_for: ClientFn, model_dir: Path, hold: Any, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, stuck_seconds=0.2)
    held = hold(client)
    waiting = pool.submit(post, client, example(model_dir))
    time.sleep(0.4)
    ready = client.get("/ready")
    assert ready.status_code == 503 and "STUCK_SECONDS" in ready.json()["reason"]
    assert client.get("/health").status_code == 200
    held.release()
    assert waiting.result(10).status_code == 200
    assert client.get("/ready").status_code == 200


def test_ready_is_503_while_draining_and_predictions_are_still_served(
    client_for: ClientFn, model_dir: Path
) -> None:
    client = client_for(model_dir)
    client.app.state.lifecycle.drain()  # type: ignore[attr-defined]
    ready = client.get("/ready")
    assert ready.status_code == 503 and "draining" in ready.json()["reason"]
    assert post(client, example(model_dir)).status_code == 200


def test_a_422_error_list_is_capped_in_items_and_length(
    client_for: ClientFn, model_dir: Path
) -> None:
    client = client_for(model_dir)
    noise = {f"{'k' * 1000}{i}": "x" for i in range(50)}  # 800 errors in 500 kB
    response = post(client, {"records": [noise] * 10})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 21 and detail[-1]["type"] == "too_many_errors"
    assert all(len(str(part)) <= 200 for item in detail for part in item["loc"])
    assert all(len(item["msg"]) <= 400 for item in detail)
    assert len(response.content) < 20_000


def test_settings_refuse_a_run_smaller_than_a_batch() -> None:
    from api.settings import Settings

    with pytest.raises(ValueError, match="MAX_RUN_ROWS"):
        Settings(max_batch=256, max_run_rows=100)
