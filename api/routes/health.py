"""Liveness and readiness probes (GET, and HEAD: the status without the body).

/ready is 503 when no verified model is loaded, while the process drains after SIGTERM (a load
balancer stops sending before the listener closes), and while the model thread has been on one
hand-off longer than STUCK_SECONDS (a watchdog: runs are bounded by MAX_RUN_ROWS, so that long
means stuck). A full queue does not make it 503: that is shed on the prediction paths, or every
busy replica would leave the balancer at once and push its load onto the rest.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.deps import StateDep
from api.schemas import Health, Ready
from api.state import State

router = APIRouter(tags=["probes"])


@router.get("/health", response_model=Health, summary="The process is alive")
async def health() -> Health:
    return Health(status="ok", pid=os.getpid())


def not_ready(request: Request, state: State) -> str | None:
    """Why this process should get no traffic now (/ready's reason), or None when it should."""
    if state.model is None:
        return state.error or "still loading"
    if request.app.state.lifecycle.draining_since is not None:
        return "draining: shutting down after SIGTERM; in-flight requests finish"
    batcher = getattr(request.app.state, "batcher", None)
    limit = request.app.state.settings.stuck_seconds
    busy = batcher.busy_for() if batcher is not None else 0.0
    if busy > limit:
        return f"model thread busy for {busy:.1f} s on one run (over STUCK_SECONDS {limit:g})"
    return None


@router.get(
    "/ready",
    response_model=Ready,
    responses={
        503: {
            "model": Ready,
            "description": "No verified model, draining, or the model thread is stuck; "
            "`reason` says which",
        }
    },
    summary="A verified model is loaded and the process takes traffic",
)
async def ready(request: Request, state: StateDep) -> JSONResponse:
    reason = not_ready(request, state)
    if state.model is None or reason is not None:
        body = Ready(ready=False, reason=reason)
        return JSONResponse(body.model_dump(), status_code=503)
    loaded = state.model
    body = Ready(
        ready=True, model=loaded.card.name, version=loaded.card.version, backend=loaded.backend.name
    )
    return JSONResponse(body.model_dump())


# HEAD is GET without the body (RFC 9110 asks every server for it): uptime checkers and some
# load balancers probe with HEAD, and read a 405 as "down". Not in the OpenAPI document.
router.add_api_route("/health", health, methods=["HEAD"], include_in_schema=False)
router.add_api_route("/ready", ready, methods=["HEAD"], include_in_schema=False)
