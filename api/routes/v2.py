"""The Open Inference Protocol (KServe V2) REST endpoints, on the same port as /predict.

Health and readiness say what /health and /ready say (readiness is /ready's own answer,
translated); an infer request is read by `api.v2.codec` in the model thread and then takes
/predict's path: the same batcher call, model run, limits and metrics. Every error is the
protocol's `{"error": "…"}`: 400 for a body the model can't take, 404 for an unknown model
or version, 401 without the API key (when API_KEY is set), 413 past MAX_BODY_BYTES; 503
only when no verified model is loaded (as /predict).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import Response
from starlette.exceptions import HTTPException
from starlette.routing import BaseRoute

from mlops_template.core.card import ModelCard

from api import deps
from api.codecs import InputError
from api.deps import ApiKey
from api.errors import BodyTooLarge, OutputNotFinite
from api.routes import V2_PREFIX, health, is_v2
from api.state import State
from api.v2 import schemas, tensors
from api.v2.checked import BINARY
from api.v2.codec import V2Codec

MODEL = V2_PREFIX + "/models/{name}"
VERSION = MODEL + "/versions/{version}"
BINARY_HEADER = "inference-header-content-length"


def error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = orjson.dumps({"error": message})
    return Response(body, status, headers, media_type="application/json")


def answer(content: dict[str, Any], status: int = 200) -> Response:
    return Response(orjson.dumps(content), status, media_type="application/json")


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
    response = await health.ready(deps.state(request))
    if response.status_code == 200:
        return None
    reason = orjson.loads(bytes(response.body)).get("reason")
    return str(reason or f"/ready answers {response.status_code}")


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
    codec: V2Codec = app.state.v2_codec
    try:
        content = await app.state.batcher.submit(body, codec)
    except InputError as exc:
        telemetry.rejected(exc.reason)
        # Binary tensor data (Triton's extension) follows the JSON: not JSON as a whole.
        binary = exc.reason == "malformed_json" and BINARY_HEADER in request.headers
        return error(400, BINARY if binary else str(exc))
    except OutputNotFinite as exc:
        telemetry.rejected("not_finite")
        return error(
            400, f"model output is not finite for rows {exc.records} (values out of range?)"
        )
    return Response(content, media_type="application/json")


TAGS: list[str | Enum] = ["open inference protocol (v2)"]
INFER_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schemas.INFER_REQUEST}"}
            }
        },
    }
}


def _failures(protected: bool) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": schemas.V2Error} for s in (404, 503, *((401,) if protected else ()))}


def build(protected: bool) -> APIRouter:
    """The V2 router; metadata and infer need the API key when API_KEY is set, as /model and
    /predict do (health, readiness and server metadata don't, as /health and /ready)."""
    router = APIRouter(tags=TAGS)
    keyed: list[Any] = [ApiKey] if protected else []
    fail = _failures(protected)

    ready_fail = {**fail, 400: {"model": schemas.ModelReady, "description": "Not ready"}}
    # The infer routes come first (the router tries routes in order, /predict's router is
    # included before this one) and are plain Starlette routes: FastAPI's per-request
    # machinery (dependency solving, its route wrappers) cost about 30 µs a call here, more
    # than reading a V2 body. `documented` gives OpenAPI their description instead.
    for prefix in (MODEL, VERSION):
        path = prefix + "/infer"
        router.add_route(path, _served(path, protected), ["POST"], include_in_schema=False)
    for prefix in (MODEL, VERSION):
        router.add_api_route(
            prefix + "/ready",
            _route(model_ready),
            methods=["GET"],
            response_model=schemas.ModelReady,
            responses=ready_fail,
            openapi_extra={"parameters": _path_parameters(prefix)},
            summary="Model ready",
        )
        router.add_api_route(
            prefix,
            _route(model_metadata),
            methods=["GET"],
            dependencies=keyed,
            response_model=schemas.ModelMetadata,
            responses=fail,
            openapi_extra={"parameters": _path_parameters(prefix)},
            summary="Model metadata: one input per feature, the outputs",
        )

    @router.get(V2_PREFIX, response_model=schemas.ServerMetadata, summary="Server metadata")
    async def server_metadata() -> Response:
        return answer(tensors.server_metadata())

    @router.get(V2_PREFIX + "/health/live", response_model=schemas.Live, summary="Server live")
    async def live() -> Response:
        return answer({"live": True})

    @router.get(
        V2_PREFIX + "/health/ready",
        response_model=schemas.Ready,
        responses={400: {"model": schemas.Ready, "description": "Not ready; `error` says why"}},
        summary="Server ready: what /ready says",
    )
    async def ready(request: Request) -> Response:
        reason = await not_ready(request)
        if reason is not None:
            return answer({"ready": False, "error": reason}, 400)
        return answer({"ready": True})

    return router


def documented(protected: bool) -> list[BaseRoute]:
    """The infer operations as FastAPI routes, for the OpenAPI document only (never mounted)."""
    router = APIRouter(tags=TAGS)
    fail = _failures(protected)
    for prefix in (MODEL, VERSION):
        router.add_api_route(
            prefix + "/infer",
            _route(infer),
            methods=["POST"],
            dependencies=[ApiKey] if protected else [],
            response_model=schemas.InferenceResponse,
            responses={**fail, 400: {"model": schemas.V2Error}, 413: {"model": schemas.V2Error}},
            openapi_extra={**INFER_BODY, "parameters": _path_parameters(prefix)},
            summary="Inference: one tensor per feature (or one [n, features] tensor)",
        )
    return router.routes


@dataclass(frozen=True)
class Template:
    """What `scope["route"]` holds for the metrics' route label (`api.middleware.Observe`):
    FastAPI puts its own routes there, a plain Starlette route puts nothing."""

    path: str


def _served(path: str, protected: bool) -> Callable[[Request], Awaitable[Response]]:
    """The infer endpoint as a plain Starlette route: it names its route template for the
    metrics and checks the API key itself (its HTTPException becomes `{"error": …}`)."""
    template = Template(path)

    async def infer_endpoint(request: Request) -> Response:
        request.scope["route"] = template
        if protected:
            deps.api_key(request, request.headers.get(deps.API_KEY_HEADER))
        params = request.path_params
        return await infer(request, params["name"], params.get("version"))

    return infer_endpoint


Handler = Callable[[Request, str, str | None], Awaitable[Response]]


def _route(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The endpoint: path parameters read from the request, not declared to FastAPI, whose
    parameter solving would cost each infer call about as much as its JSON parse does
    (`_path_parameters` documents them in OpenAPI instead)."""

    async def endpoint(request: Request) -> Response:
        params = request.path_params
        return await handler(request, params["name"], params.get("version"))

    endpoint.__name__ = handler.__name__
    return endpoint


def _path_parameters(path: str) -> list[dict[str, Any]]:
    names = [name for name in ("name", "version") if "{" + name + "}" in path]
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in names
    ]
