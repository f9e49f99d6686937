"""Dependencies: the loaded model and the optional API key, as `Annotated` aliases."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Security
from fastapi.security import APIKeyHeader

from api.errors import ModelNotReady
from api.telemetry.recorder import Telemetry
from api.settings import Settings
from api.state import Loaded, State

API_KEY_HEADER = "X-API-Key"
_api_key = APIKeyHeader(
    name=API_KEY_HEADER, auto_error=False, description="Needed when API_KEY is set"
)


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def telemetry(request: Request) -> Telemetry:
    value: Telemetry = request.app.state.telemetry
    return value


def state(request: Request) -> State:
    value: State = request.app.state.model
    return value


def model(request: Request) -> Loaded:
    """The verified model, or 503 with the reason it isn't there."""
    current: State = request.app.state.model
    if current.model is None:
        raise ModelNotReady(current.error or "still loading")
    return current.model


def api_key(request: Request, key: Annotated[str | None, Security(_api_key)]) -> None:
    """Refuse the request unless API_KEY is unset or the header matches it."""
    expected = settings(request).api_key
    if expected is None or not expected.get_secret_value():
        return
    if key is None or not secrets.compare_digest(
        key.encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(
            401, f"missing or wrong {API_KEY_HEADER} header", headers={"WWW-Authenticate": "ApiKey"}
        )


TelemetryDep = Annotated[Telemetry, Depends(telemetry)]
StateDep = Annotated[State, Depends(state)]
ModelDep = Annotated[Loaded, Depends(model)]
ApiKey = Depends(api_key)
