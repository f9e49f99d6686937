"""What the Open Inference Protocol endpoints do (`api.routes.v2` routes requests here).

Health and readiness say what /health and /ready say (readiness is /ready's own answer,
translated); an infer request is read by `api.v2.codec` in the model thread and then takes
/predict's path: the same batcher call, model run, limits and metrics. Every error is the
protocol's `{"error": "…"}`: 400 for a body the model can't take, 404 for an unknown model
or version, 401 without the API key (when API_KEY is set), 413 past MAX_BODY_BYTES; 503
only when no verified model is loaded (as /predict).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException

from mlops_template.core.card import ModelCard

from api import deps
from api.codecs import InputError
from api.errors import BodyTooLarge, OutputNotFinite, unsupported_encoding
from api.routes import health, is_v2
from api.state import State
from api.v2 import tensors
from api.v2.checked import BINARY
from api.v2.codec import V2Codec

BINARY_HEADER = "inference-header-content-length"


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": message})
    return Response(body, status, headers, media_type="application/json")


def answer(content: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


def binary_header(declared: str, size: int) -> str:
    """Why an Inference-Header-Content-Length that is not the body's length is refused: it
    says how much of the body is JSON, and binary tensor data (Triton's extension) would
    follow; anything but the whole body is not served."""
    if not declared.isdigit() or len(declared) > 18:
        return f"{BINARY_HEADER} must be the byte length of the JSON part"
    if int(declared) > size:
        return f"{BINARY_HEADER} ({int(declared)}) is larger than the body ({size} bytes)"
    return BINARY


async def http_error(request: Request, exc: Exception) -> Response:
    """HTTP errors under /v2 (401, 404 of unknown paths, 405) in the protocol's shape."""
    assert isinstance(exc, HTTPException)
    if is_v2(request.url.path):
        return error(exc.status_code, str(exc.detail), exc.headers)
    return await http_exception_handler(request, exc)


def find(state: State, name: str, version: str | None) -> ModelCard | Response:
    """The served model's card if `name` (and `version`) name it; else the error answer."""
    card = state.card
    if card is None:
        return error(503, f"model not ready: {state.error or 'still loading'}")
    if name != card.name:
        return error(404, f"unknown model {name[:80]!r}: this server serves {card.name!r}")
    if version is not None and version != card.version:
        shown = version[:80]
        return error(404, f"model {card.name!r} has no version {shown!r}; it has {card.version!r}")
    return card


async def not_ready(request: Request) -> str | None:
    """Why the server isn't ready (/ready's reason), or None when it is."""
    return health.not_ready(request, deps.state(request))


async def model_ready(request: Request, name: str, version: str | None) -> Response:
    found = find(deps.state(request), name, version)
    if isinstance(found, Response):
        return found
    reason = await not_ready(request)
    if reason is not None:
        return answer({"name": found.name, "ready": False, "error": reason}, 400)
    return answer({"name": found.name, "ready": True})


async def model_metadata(request: Request, name: str, version: str | None) -> Response:
    found = find(deps.state(request), name, version)
    if isinstance(found, Response):
        return found
    return answer(tensors.model_metadata(found))


async def infer(request: Request, name: str, version: str | None) -> Response:
    state = deps.state(request)
    found = find(state, name, version)
    if isinstance(found, Response):
        return found
    if state.model is None:
        return error(503, f"model not ready: {state.error or 'still loading'}")
    app = request.app
    telemetry = app.state.telemetry
    try:
        body = await request.body()
    except BodyTooLarge as exc:
        telemetry.rejected("body_too_large")
        return error(413, str(exc.detail))
    declared = request.headers.get(BINARY_HEADER)
    if declared is not None and declared != str(len(body)):
        telemetry.rejected("malformed_json")
        return error(400, binary_header(declared, len(body)))
    codec: V2Codec = app.state.v2_codec
    try:
        content = await app.state.batcher.submit(body, codec)
    except InputError as exc:
        telemetry.rejected(exc.reason)
        encoding = unsupported_encoding(request) if exc.reason == "malformed_json" else None
        if encoding is not None:
            return error(415, encoding)
        return error(400, str(exc))
    except OutputNotFinite as exc:
        telemetry.rejected("not_finite")
        return error(
            400, f"model output is not finite for rows {exc.records} (values out of range?)"
        )
    return Response(content, media_type="application/json")
