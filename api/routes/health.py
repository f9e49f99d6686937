"""Liveness and readiness probes."""

from __future__ import annotations

import os

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.schemas import Health, Ready

router = APIRouter(tags=["probes"])


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Health:
    return Health(status="ok", pid=os.getpid())


@router.get(
    "/ready",
    response_model=Ready,
    responses={503: {"model": Ready, "description": "No verified model; `reason` says why"}},
    summary="A verified model is loaded",
)
async def ready(state: StateDep) -> JSONResponse:
    if state.model is None:
        body = Ready(ready=False, reason=state.error or "still loading")
        return JSONResponse(body.model_dump(), status_code=503)
    loaded = state.model
    body = Ready(
        ready=True, model=loaded.card.name, version=loaded.card.version, backend=loaded.backend.name
    )
    return JSONResponse(body.model_dump())
