"""Error types and their handlers: one handler per type, every answer a JSON `detail`.

The validation handler replaces FastAPI's default, which echoes the input back: a NaN in
the input would then make the error response itself fail with a 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from api.routes import is_inference, is_v2


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


class Overloaded(Exception):
    """The model's queue is full: 503 with Retry-After (`reason` labels the metric)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or f"server overloaded ({reason}): retry later")
        self.reason = reason


class DeadlinePassed(Overloaded):
    """The request could not be run within DEADLINE_SECONDS of its arrival."""

    def __init__(self, seconds: float) -> None:
        super().__init__(
            "deadline",
            f"server overloaded: not run within {seconds:g} s (DEADLINE_SECONDS); retry later",
        )


class ClientGone(Exception):
    """The client disconnected while its request waited for the model."""


# Most items in a 422 error list, and the longest field name or message in one (a body can
# hold thousands of bad or unknown keys; the answer should not grow with them).
MAX_ERRORS = 20
MAX_TEXT = 200

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


def unsupported_encoding(request: Request) -> str | None:
    """Why a body that is not JSON may be compressed: a Content-Encoding the server doesn't
    decode (none: a gzip bomb is never inflated). Asked only once the body failed to parse."""
    coding = request.headers.get("content-encoding", "identity").strip().lower()
    if coding in ("", "identity"):
        return None
    return f"Content-Encoding {coding[:40]!r} is not supported: send the JSON uncompressed"


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    _count(request, reason(errors[0]) if errors else "wrong_type")
    if errors and errors[0].get("type") == "json_invalid":
        encoding = unsupported_encoding(request)
        if encoding is not None:
            return JSONResponse({"detail": encoding}, status_code=415)
        first = errors[0]
        ctx = first.get("ctx") or {}
        at = first["loc"][-1] if first["loc"] else None
        if "error" in ctx and isinstance(at, int):  # from FastAPI's own body parsing
            detail = f"malformed JSON: {ctx['error']} at position {at}"
        else:  # from pydantic's JSON parser: "Invalid JSON: … at line 1 column 13"
            detail = f"malformed JSON: {first['msg'].removeprefix('Invalid JSON: ')}"
        return JSONResponse({"detail": detail}, status_code=400)
    # FastAPI's documented 422 shape (loc, msg, type), without the `input` it would echo, at
    # most MAX_ERRORS items of bounded length.
    items: list[dict[str, Any]] = [
        {
            "loc": [p if isinstance(p, int) else str(p)[:MAX_TEXT] for p in e["loc"]],
            "msg": f"{field_name(tuple(e['loc']))[:MAX_TEXT]}: {e['msg']}"[: 2 * MAX_TEXT],
            "type": e["type"],
        }
        for e in errors[:MAX_ERRORS]
    ]
    if len(errors) > MAX_ERRORS:
        more = len(errors) - MAX_ERRORS
        items.append({"loc": ["body"], "msg": f"{more} more errors", "type": "too_many_errors"})
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
        for i in exc.records[:MAX_ERRORS]
    ]
    return JSONResponse({"detail": items}, status_code=422)


def overloaded_response(detail: str, retry_after: str, path: str) -> JSONResponse:
    key = "error" if is_v2(path) else "detail"  # the Open Inference Protocol's error shape
    return JSONResponse({key: detail}, status_code=503, headers={"Retry-After": retry_after})


async def overloaded(request: Request, exc: Exception) -> JSONResponse:
    return overloaded_response(str(exc), request.app.state.settings_retry_after, request.url.path)


async def client_gone(request: Request, exc: Exception) -> Response:
    """Nobody is there to read it; 499 (as nginx logs it) keeps it apart in the metrics."""
    return Response(status_code=499)


def install(app: FastAPI, retry_after: int = 1) -> None:
    app.state.settings_retry_after = str(retry_after)
    app.add_exception_handler(Overloaded, overloaded)
    app.add_exception_handler(ClientGone, client_gone)
    app.add_exception_handler(ClientDisconnect, client_gone)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(BodyTooLarge, body_too_large)
    app.add_exception_handler(ModelNotReady, model_not_ready)
    app.add_exception_handler(OutputNotFinite, output_not_finite)
