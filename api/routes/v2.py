"""The Open Inference Protocol (KServe V2) REST routes, on the same port as /predict.

What each endpoint does is in `api.v2.endpoints`; here: the paths (with and without
`/versions/{version}`), the API key, the OpenAPI description, and the infer routes as plain
Starlette routes (see `build`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.routing import BaseRoute

from api import deps
from api.deps import ApiKey
from api.routes import V2_MODEL, V2_PREFIX, V2_VERSION
from api.v2 import schemas, tensors
from api.v2.endpoints import answer, infer, model_metadata, model_ready, not_ready

MODEL, VERSION = V2_MODEL, V2_VERSION


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
    """The endpoint: path parameters read from the request, not declared to FastAPI (whose
    parameter solving costs every call; `_path_parameters` documents them in OpenAPI)."""

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
