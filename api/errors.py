"""Error types and their handlers: one handler per type, every answer a JSON `detail`.

The validation handler replaces FastAPI's default, which echoes the input back: a NaN in
the input would then make the error response itself fail with a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from api.routes import is_inference


class ModelNotReady(Exception):
    """No verified model is loaded; the message says why."""


class BodyTooLarge(HTTPException):
    """The request body is over MAX_BODY_BYTES."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body is over the limit of {limit} bytes (MAX_BODY_BYTES)")


class OutputNotFinite(ValueError):
    """The model gave NaN or infinity for some records (inputs far outside any sane range)."""

    def __init__(self, records: list[int]) -> None:
        super().__init__(f"model output is not finite for records {records}")
        self.records = records


_TYPE_REASONS = {
    "json_invalid": "malformed_json",
    "missing": "missing_field",
    "extra_forbidden": "unknown_field",
    "finite_number": "not_finite",
}


def reason(error: dict[str, Any]) -> str:
    """A short, bounded label for the `model_input_validation_errors` metric."""
    kind = str(error.get("type", ""))
    if kind in _TYPE_REASONS:
        return _TYPE_REASONS[kind]
    if kind in ("too_short", "too_long") and tuple(error.get("loc", ())) == ("body", "records"):
        return "batch_size"
    return "wrong_type"


def field_name(loc: tuple[Any, ...]) -> str:
    """`("body", "records", 0, "age")` → `records[0].age`."""
    text = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


def _count(request: Request, why: str) -> None:
    if is_inference(request.url.path):
        request.app.state.telemetry.rejected(why)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    _count(request, reason(errors[0]) if errors else "wrong_type")
    if errors and errors[0].get("type") == "json_invalid":
        first = errors[0]
        ctx = first.get("ctx") or {}
        if "error" in ctx:  # from FastAPI's own body parsing
            detail = f"malformed JSON: {ctx['error']} at position {first['loc'][-1]}"
        else:  # from pydantic's JSON parser: "Invalid JSON: … at line 1 column 13"
            detail = f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
        return JSONResponse({"detail": detail}, status_code=400)
    # FastAPI's documented 422 shape (loc, msg, type), without the `input` it would echo.
    items = [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e["loc"]],
            "msg": f"{field_name(tuple(e['loc']))}: {e['msg']}",
            "type": e["type"],
        }
        for e in errors
    ]
    return JSONResponse({"detail": items}, status_code=422)


async def body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)
    _count(request, "body_too_large")
    return JSONResponse({"detail": exc.detail}, status_code=413)


async def model_not_ready(request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": f"model not ready: {exc}"}, status_code=503)


async def output_not_finite(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, OutputNotFinite)
    _count(request, "not_finite")
    items = [
        {
            "loc": ["body", "records", i],
            "msg": f"records[{i}]: model output is not finite (feature values out of range?)",
            "type": "output_not_finite",
        }
        for i in exc.records
    ]
    return JSONResponse({"detail": items}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(ModelNotReady, model_not_ready)
    app.add_exception_handler(OutputNotFinite, output_not_finite)
