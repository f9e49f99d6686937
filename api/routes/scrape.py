"""Prometheus scrape endpoint."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from api.deps import TelemetryDep

router = APIRouter(tags=["monitoring"])


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
    summary="Prometheus metrics (summed over all worker processes)",
)
def metrics(telemetry: TelemetryDep) -> Response:
    body, content_type = telemetry.exposition()
    return Response(body, media_type=content_type)
