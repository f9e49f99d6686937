"""POST /predict: one record or a batch, validated and answered off the event loop.

The raw body is parsed and validated (`api.records`) in the model thread together with the
inference (see `api.batcher`, which calls `answer_many` with the parsed requests), so neither
a big batch nor the model ever blocks the event loop. The request schema is documented in
OpenAPI by `api.main` (`openapi_extra` below points at it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import BaseRoute

from api import deps
from api.codecs import Reply
from api.deps import ApiKey
from api.errors import OutputNotFinite
from api.feedback.ledger import Ledger
from api.telemetry.recorder import Telemetry
from api.records import Parser, Records
from api.routes import PREDICT_PATH
from api.schemas import Error, PredictResponse, ValidationErrors
from api.state import Loaded

REQUEST_SCHEMA = "PredictRequest"


class PredictCodec:
    """`/predict`: `{"records": [...]}` in, `{"model_version", "predictions"}` out."""

    def __init__(self, parser: Parser, model: Loaded) -> None:
        self.parser, self.model = parser, model

    def read(self, body: bytes) -> tuple[Records, Reply]:
        return self.parser.parse(body), self.reply

    def reply(self, result: np.ndarray, classification: bool, ids: list[str]) -> bytes:
        return orjson.dumps(shape(self.model, result, classification, ids))


def answer_many(
    requests: Sequence[tuple[Records, Reply]], model: Loaded, telemetry: Telemetry, ledger: Ledger
) -> list[bytes | Exception]:
    """The answers of several parsed requests, of any protocol, from one model run (in the
    model thread). Every answered row gets its signed prediction id (and is captured, when
    capture is on) through the one `ledger.served` call, whichever protocol asked."""
    results: list[bytes | Exception] = [b""] * len(requests)
    parts = [(index, records, reply) for index, (records, reply) in enumerate(requests)]
    if not parts:
        return results
    records = Records.join([part for _, part, _ in parts])
    started = time.perf_counter()
    out = model.backend.run(records)
    seconds = time.perf_counter() - started
    result = out.proba if out.proba is not None else out.values
    assert result is not None
    finite = np.isfinite(result) if result.ndim == 1 else np.isfinite(result).all(axis=1)
    good: list[np.ndarray] = []
    offset = 0
    for index, part, reply in parts:
        span = slice(offset, offset + len(part))
        offset += len(part)
        if not finite[span].all():
            results[index] = OutputNotFinite([int(i) for i in np.flatnonzero(~finite[span])])
            continue
        good.append(np.arange(span.start, span.stop))
    if good:
        take = np.concatenate(good)
        if len(take) < len(records):
            records = Records([records.rows[i] for i in take.tolist()])
        classification = out.proba is not None
        best = result[take].argmax(axis=1) if classification else None
        ids = ledger.served(records, best, None if classification else result[take])
        at = 0
        for index, part, reply in parts:
            if results[index] == b"":
                n = len(part)
                results[index] = reply(result[take[at : at + n]], classification, ids[at : at + n])
                at += n
        telemetry.received(records)
        calls = len(good)
        if out.proba is not None:
            proba = out.proba[take]
            best = proba.argmax(axis=1)
            telemetry.classified(best, proba[np.arange(len(best)), best], seconds, calls)
        else:
            assert out.values is not None
            telemetry.regressed(out.values[take], seconds, calls)
    return results


def shape(
    model: Loaded, result: np.ndarray, classification: bool, ids: list[str]
) -> dict[str, Any]:
    """The answer of one request: its rows of ids and probabilities (or values)."""
    card = model.card
    predictions: list[dict[str, Any]]
    if classification:
        classes = card.classes
        predictions = [
            {"prediction": classes[b], "probabilities": dict(zip(classes, p)), "id": i}
            for i, b, p in zip(ids, result.argmax(axis=1).tolist(), result.tolist())
        ]
    else:
        predictions = [{"prediction": v, "id": i} for i, v in zip(ids, result.tolist())]
    return {"model_version": card.version, "predictions": predictions}


def build(protected: bool) -> APIRouter:
    """The /predict router: a plain Starlette route.

    FastAPI's per-request machinery (dependency solving, its route wrappers) costs about 30 µs
    a call, a quarter of what a single-record call costs the server; this route does what it
    needs itself: the API key when API_KEY is set, the model or its 503, the body to the model
    thread. `documented` gives OpenAPI its description (the request schema is added by
    `api.main`).
    """
    router = APIRouter(tags=["predict"])

    async def predict(request: Request) -> Response:
        if protected:
            deps.api_key(request, request.headers.get(deps.API_KEY_HEADER))
        deps.model(request)  # 503 with the reason when no model is loaded
        body = await request.body()
        content = await request.app.state.batcher.submit(body)
        return Response(content, media_type="application/json")

    router.add_route(PREDICT_PATH, predict, ["POST"], include_in_schema=False)
    return router


def documented(protected: bool) -> list[BaseRoute]:
    """/predict as a FastAPI route, for the OpenAPI document only (never mounted)."""
    router = APIRouter(tags=["predict"])

    @router.post(
        PREDICT_PATH,
        response_model=PredictResponse,
        dependencies=[ApiKey] if protected else [],
        responses={
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
            503: {
                "model": Error,
                "description": "No verified model, or overloaded (with Retry-After); the detail "
                "says why",
            },
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
        raise NotImplementedError  # documentation only: `build` serves the path

    return router.routes
