"""POST /predict: one record or a batch, validated and answered off the event loop.

The raw body is parsed and validated by pydantic's Rust JSON parser (`model_validate_json`,
about twice as fast as `json.loads` + validation) inside a worker thread together with the
inference, so neither a big batch nor the model ever blocks the event loop. A small
CapacityLimiter keeps the number of such threads near the core count: dozens of threads
contending for the GIL make the event loop wait and wreck tail latency. The request schema
is documented in OpenAPI by `api.main` (`openapi_extra` below points at it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ValidationError

from api import deps
from api.deps import ApiKey
from api.errors import OutputNotFinite
from api.metrics import Metrics
from api.schemas import Error, PredictResponse, ValidationErrors
from api.state import Loaded

REQUEST_SCHEMA = "PredictRequest"


def _json_dumps(obj: Any) -> bytes:
    return json.dumps(obj).encode()


dumps: Callable[[Any], bytes] = _json_dumps
try:  # orjson (installed with DVC) serialises a 256-row answer ~10x faster than json
    import orjson

    dumps = orjson.dumps
except ImportError:  # pragma: no cover
    pass


def answer(model: Loaded, metrics: Metrics, rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Run the model on `rows` (values in card feature order), count it, shape the answer."""
    card = model.card
    started = time.perf_counter()
    out = model.backend.run(rows)
    seconds = time.perf_counter() - started
    result = out.proba if out.proba is not None else out.values
    if result is None or not np.isfinite(result).all():
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(np.asarray(result)))[:, 0]})
        raise OutputNotFinite(bad)
    metrics.inputs(rows)
    predictions: list[dict[str, Any]]
    if out.proba is not None:
        best = out.proba.argmax(axis=1)
        metrics.classified(best, out.proba[np.arange(len(best)), best], seconds)
        classes = card.classes
        predictions = [
            {"prediction": classes[b], "probabilities": dict(zip(classes, p))}
            for b, p in zip(best.tolist(), out.proba.tolist())
        ]
    else:
        assert out.values is not None
        metrics.regressed(out.values, seconds)
        predictions = [{"prediction": v} for v in out.values.tolist()]
    return {"model_version": card.version, "predictions": predictions}


def handle(body: bytes, request_model: type[BaseModel], model: Loaded, metrics: Metrics) -> bytes:
    """Validate `body`, predict, serialise (runs in a worker thread)."""
    try:
        parsed = request_model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        raise RequestValidationError(errors) from None
    rows = [tuple(r.__dict__.values()) for r in parsed.records]  # type: ignore[attr-defined]
    return dumps(answer(model, metrics, rows))


def build(request_model: type[BaseModel], protected: bool) -> APIRouter:
    """The router for a request body type built from the model card.

    The handler reads the model and metrics from `app.state` instead of `Depends`: at a few
    thousand requests/s, FastAPI's dependency solving is a measurable share of the time.
    The API-key check is a dependency only when API_KEY is set.
    """
    router = APIRouter(tags=["predict"])

    @router.post(
        "/predict",
        response_model=PredictResponse,
        dependencies=[ApiKey] if protected else [],
        responses={
            **(
                {401: {"model": Error, "description": "Missing or wrong X-API-Key"}}
                if protected
                else {}
            ),
            400: {"model": Error, "description": "Malformed JSON"},
            401: {
                "model": Error,
                "description": "Missing or wrong X-API-Key (when API_KEY is set)",
            },
            413: {"model": Error, "description": "Body over MAX_BODY_BYTES"},
            422: {
                "model": ValidationErrors,
                "description": "Invalid records; each error names the field",
            },
            503: {"model": Error, "description": "No verified model; the detail says why"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"$ref": f"#/components/schemas/{REQUEST_SCHEMA}"}
                    }
                },
            }
        },
        summary="Predict one record or a batch",
    )
    async def predict(request: Request) -> Response:
        state = request.app.state
        model = deps.model(request)
        body = await request.body()
        content = await anyio.to_thread.run_sync(
            handle, body, request_model, model, state.metrics, limiter=state.limiter
        )
        return Response(content, media_type="application/json")

    return router
