"""/feedback under overload, in process: shed with 503 + Retry-After before its body is read
while the model's queue is full, and past MAX_QUEUE /feedback requests in progress; answered
again once the pressure is gone.

As in tests/api/test_overload.py, the model thread is held on purpose and requests are bare
ASGI calls through the TestClient's event loop, so each situation is exact."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

from tests.feedback.conftest import KEY
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


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def raw_feedback(
    client: TestClient, body: bytes, hold: threading.Event | None = None
) -> dict[str, Any]:
    """POST /feedback as a bare ASGI call: how many times the app asked for the body, and the
    answer. With `hold`, the body arrives only once that event is set (a slow client)."""
    calls: list[str] = []
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        calls.append("receive")
        if len(calls) == 1:
            if hold is not None:
                while not hold.is_set():
                    await anyio.sleep(0.01)
            return {"type": "http.request", "body": body, "more_body": False}
        await anyio.sleep_forever()
        return {"type": "http.disconnect"}  # never reached

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = post_scope("/feedback", body)
    client.portal.call(client.app, scope, receive, send)  # type: ignore[union-attr]
    start = next(m for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return {
        "status": start["status"],
        "headers": dict(start["headers"]),
        "receives": len(calls),
        "body": orjson.loads(answer) if answer else None,
    }


def labels(client: TestClient, model_dir: Path) -> bytes:
    served = client.post("/predict", json=example(model_dir)).json()["predictions"]
    return orjson.dumps({"feedback": [{"id": p["id"], "label": p["prediction"]} for p in served]})


def test_feedback_waits_while_the_models_queue_is_full(
    client_for: ClientFn, model_dir: Path, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, max_queue=1)
    body = labels(client, model_dir)
    batcher = client.app.state.batcher  # type: ignore[attr-defined]
    release = threading.Event()
    batcher.executor.submit(release.wait)  # the model thread, held
    try:
        waiting = pool.submit(
            client.post, "/predict", content=orjson.dumps(example(model_dir)), headers=JSON
        )
        wait_for(lambda: batcher.depth()[0] == 1)  # the queue (MAX_QUEUE=1) is full
        shed = raw_feedback(client, body)
        assert shed["status"] == 503 and shed["headers"][b"retry-after"] == b"1"
        assert shed["receives"] == 0, "the body was read before shedding"
    finally:
        release.set()
    assert waiting.result(10).status_code == 200
    again = raw_feedback(client, body)
    assert again["status"] == 200 and again["body"]["accepted"] == 1
    assert value(scrape(client), "model_requests_rejected_total", reason="feedback") == 1


def test_at_most_max_queue_feedback_requests_at_once(
    client_for: ClientFn, model_dir: Path, pool: ThreadPoolExecutor
) -> None:
    client = client_for(model_dir, max_queue=2)
    first, second, third = (labels(client, model_dir) for _ in range(3))
    slow = threading.Event()
    try:
        reading = [pool.submit(raw_feedback, client, b, slow) for b in (first, second)]
        # Both slow bodies take the two places: the next request is shed unread.
        shed: dict[str, Any] = {}

        def third_is_shed() -> bool:
            shed.update(raw_feedback(client, third))  # accepted until both are in
            return bool(shed["status"] == 503)

        wait_for(third_is_shed)
        assert shed["receives"] == 0
        assert client.post("/predict", json=example(model_dir)).status_code == 200  # unaffected
    finally:
        slow.set()
    assert [r.result(10)["body"]["accepted"] for r in reading] == [1, 1]
    assert raw_feedback(client, first)["body"]["refused"][0]["reason"] == "duplicate"
