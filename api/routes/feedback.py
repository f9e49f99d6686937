"""POST /feedback: labels for earlier predictions, by their ids.

Body: `{"feedback": [{"id": "<id from /predict>", "label": <true class or value>}, …]}` with
1 … MAX_BATCH items (MAX_BODY_BYTES applies, as for /predict). Every item is judged on its
own: the answer counts what was accepted and lists each refused item with a reason
(`api.feedback.ledger`). Only a body that isn't a feedback list at all is an error (400/422).
Admission (`api.middleware.Admit`) sheds /feedback with 503 + Retry-After, before its body is
read, while the model's queue is full or MAX_QUEUE /feedback requests are in progress.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response

from api import deps
from api.codecs import NOT_FINITE, not_finite
from api.deps import ApiKey
from api.errors import unsupported_encoding
from api.feedback.ledger import Ledger
from api.routes import FEEDBACK_PATH
from api.schemas import Error, FeedbackResponse, ValidationErrors

JSON = "application/json"
ITEM = 'must be {"id": "<id from /predict>", "label": <class name or value>}'


def _items(body: bytes, max_items: int) -> list[Any]:
    """The list of items, or the 400/422 a body that is not a feedback list deserves."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        why = f"{NOT_FINITE}: a label must be a finite number" if not_finite(body, exc) else exc
        error = {"type": "json_invalid", "loc": ("body",), "msg": f"Invalid JSON: {why}"}
        raise RequestValidationError([error]) from None
    if not isinstance(data, dict) or set(data) != {"feedback"}:
        msg = 'the body must be {"feedback": [{"id": …, "label": …}, …]}'
        raise RequestValidationError([{"type": "model_type", "loc": ("body",), "msg": msg}])
    items = data["feedback"]
    if not isinstance(items, list):
        msg = "must be a list of {id, label} items"
        raise RequestValidationError(
            [{"type": "list_type", "loc": ("body", "feedback"), "msg": msg}]
        )
    if not 1 <= len(items) <= max_items:
        kind = "too_short" if not items else "too_long"
        msg = f"must hold 1 to {max_items} items (MAX_BATCH), not {len(items)}"
        raise RequestValidationError([{"type": kind, "loc": ("body", "feedback"), "msg": msg}])
    errors = [
        {"type": "model_type", "loc": ("body", "feedback", i), "msg": ITEM}
        for i, item in enumerate(items)
        if not (isinstance(item, dict) and set(item) == {"id", "label"})
        or not isinstance(item["id"], str)
    ]
    if errors:  # the shape is the client's bug: the whole body; what the values say: per item
        raise RequestValidationError(errors[:20])
    return items


def build(protected: bool) -> APIRouter:
    router = APIRouter(tags=["feedback"])
    responses: dict[int | str, dict[str, Any]] = {
        400: {"model": Error, "description": "Malformed JSON"},
        413: {"model": Error, "description": "Body over MAX_BODY_BYTES"},
        422: {"model": ValidationErrors, "description": "Not a feedback list"},
        503: {
            "model": Error,
            "description": "No verified model (the detail says why), or overloaded: retry after "
            "Retry-After seconds",
        },
    }
    if protected:
        responses[401] = {"model": Error, "description": "Missing or wrong X-API-Key"}

    @router.post(
        FEEDBACK_PATH,
        response_model=FeedbackResponse,
        dependencies=[ApiKey] if protected else [],
        responses=responses,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/FeedbackRequest"}}
                },
            }
        },
        summary="Labels for earlier predictions, by their ids",
    )
    async def feedback(request: Request) -> Response:
        deps.model(request)  # 503 with the reason when no model is loaded
        ledger: Ledger = request.app.state.ledger
        body = await request.body()
        try:
            items = _items(body, request.app.state.settings.max_batch)
        except RequestValidationError as exc:
            malformed = exc.errors()[0]["type"] == "json_invalid"
            encoding = unsupported_encoding(request) if malformed else None
            if encoding is not None:
                return Response(orjson.dumps({"detail": encoding}), 415, media_type=JSON)
            raise
        # Checking an id is a base64 decode and one keyed hash: 256 items take about 0.6 ms,
        # less than a thread hand-off would cost, so this runs on the event loop.
        outcome = ledger.label(items)
        answer = {
            "accepted": outcome.accepted,
            "refused": [
                {"index": r.index, "reason": r.reason, "detail": r.detail} for r in outcome.refused
            ],
        }
        return Response(orjson.dumps(answer), media_type=JSON)

    return router
