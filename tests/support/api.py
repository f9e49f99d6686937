"""The app in-process under FastAPI's TestClient, and reading its /metrics."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from api.main import create_app
from api.settings import Settings

with warnings.catch_warnings():
    # Starlette warns that its TestClient will move to httpx2; httpx is what we have.
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


ClientFn = Callable[..., TestClient]


def example(model_dir: Path) -> dict[str, Any]:
    """The /predict example of the OpenAPI document, as a client would copy it from /docs."""
    app = create_app(Settings(model_dir=model_dir))
    examples = app.openapi()["components"]["schemas"]["PredictRequest"]["examples"]
    body: dict[str, Any] = examples[0]
    return body


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """/metrics as {(sample name, sorted labels): value}."""
    from prometheus_client.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(samples: dict[Any, float], metric: str, /, **labels: str) -> float:
    return samples.get((metric, tuple(sorted(labels.items()))), 0.0)


JSON = {"content-type": "application/json"}


def record(model_dir: Path) -> dict[str, Any]:
    """The first record of the OpenAPI example: a valid record for the model."""
    first: dict[str, Any] = example(model_dir)["records"][0]
    return dict(first)


def post_text(client: TestClient, text: str) -> Any:
    """POST raw text to /predict (bodies a JSON encoder would refuse to write)."""
    return client.post("/predict", content=text.encode(), headers=JSON)


def v2_tensors(model_dir: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Open Inference Protocol inputs for `records`: one tensor per feature, in card order."""
    from api.state import read_card
    from api.v2.tensors import DECLARED

    return [
        {
            "name": f.name,
            "shape": [len(records)],
            "datatype": DECLARED[f.kind],
            "data": [r.get(f.name) for r in records],
        }
        for f in read_card(model_dir).features
    ]


def wait_for(check: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll `check` every 10 ms until it is true; fail after `seconds`."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def post_scope(path: str, body: bytes) -> dict[str, Any]:
    """The ASGI scope of a JSON POST of `body` to `path` (for bare ASGI calls in tests)."""
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
