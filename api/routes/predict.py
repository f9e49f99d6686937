"""POST /predict: one record or a batch, validated and answered off the event loop.

The raw body is parsed and validated by pydantic's Rust JSON parser (`model_validate_json`,
about twice as fast as `json.loads` + validation) in the model thread together with the
inference (see `api.batcher`), so neither a big batch nor the model ever blocks the event
loop. The request schema is documented in OpenAPI by `api.main` (`openapi_extra` below
points at it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

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


def parse(body: bytes, request_model: type[BaseModel]) -> list[tuple[Any, ...]]:
    """Validated records of one request, as value tuples in card feature order."""
    try:
        parsed = request_model.model_validate_json(body)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
        raise RequestValidationError(errors) from None
    return [tuple(r.__dict__.values()) for r in parsed.records]  # type: ignore[attr-defined]


def handle_many(
    bodies: list[bytes], request_model: type[BaseModel], model: Loaded, metrics: Metrics
) -> list[bytes | Exception]:
    """Answer several requests with one model run (runs in the model thread)."""
    results: list[bytes | Exception] = []
    parts: list[tuple[int, list[tuple[Any, ...]]]] = []  # (result index, rows) of valid bodies
    for body in bodies:
        try:
            parts.append((len(results), parse(body, request_model)))
            results.append(b"")
        except RequestValidationError as exc:
            results.append(exc)
    if not parts:
        return results
    rows = [row for _, part in parts for row in part]
    started = time.perf_counter()
    out = model.backend.run(rows)
    seconds = time.perf_counter() - started
    result = out.proba if out.proba is not None else out.values
    assert result is not None
    finite = np.isfinite(result) if result.ndim == 1 else np.isfinite(result).all(axis=1)
    good_rows: list[tuple[Any, ...]] = []
    good: list[np.ndarray] = []
    offset = 0
    for index, part in parts:
        span = slice(offset, offset + len(part))
        offset += len(part)
        if not finite[span].all():
            results[index] = OutputNotFinite([int(i) for i in np.flatnonzero(~finite[span])])
            continue
        good_rows.extend(part)
        good.append(np.arange(span.start, span.stop))
        results[index] = dumps(shape(model, result[span], out.proba is not None))
    if good_rows:
        take = np.concatenate(good)
        metrics.inputs(good_rows)
        calls = len(good)
        if out.proba is not None:
            proba = out.proba[take]
            best = proba.argmax(axis=1)
            metrics.classified(best, proba[np.arange(len(best)), best], seconds, calls)
        else:
            assert out.values is not None
            metrics.regressed(out.values[take], seconds, calls)
    return results


def shape(model: Loaded, result: np.ndarray, classification: bool) -> dict[str, Any]:
    """The answer of one request: its rows of probabilities (or values)."""
    card = model.card
    predictions: list[dict[str, Any]]
    if classification:
        classes = card.classes
        predictions = [
            {"prediction": classes[b], "probabilities": dict(zip(classes, p))}
            for b, p in zip(result.argmax(axis=1).tolist(), result.tolist())
        ]
    else:
        predictions = [{"prediction": v} for v in result.tolist()]
    return {"model_version": card.version, "predictions": predictions}


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
        deps.model(request)  # 503 with the reason when no model is loaded
        body = await request.body()
        content = await request.app.state.batcher.submit(body)
        return Response(content, media_type="application/json")

    return router
