"""The app: settings, model card → request schema, lifespan that loads the model, routes.

`create_app()` is the factory gunicorn and uvicorn call (`api.main:create_app()`).
"""

from __future__ import annotations

import gc
import hmac
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from mlops_template.core.card import ModelCard
from mlops_template.core.errors import CardError

from api import errors, schemas
from api.batcher import Batcher
from api.feedback import keys as feedback_keys
from api.feedback.ids import Signer
from api.feedback.ledger import Ledger
from api.telemetry.recorder import Telemetry
from api.records import Parser
from api.middleware import Admit, Gate, LimitBody, Observe
from api.routes import feedback, health, model, predict, scrape, v2
from api.settings import Settings
from api.state import Lifecycle, State, load, read_card
from api.v2 import endpoints as v2_endpoints
from api.v2 import schemas as v2_schemas
from api.v2.codec import V2Codec

log = logging.getLogger(__name__)


def openapi(app: FastAPI, request_model: type[BaseModel]) -> dict[str, Any]:
    """FastAPI's schema plus the /predict request body (validated by the route itself)."""
    if app.openapi_schema is None:
        protected = bool(app.state.protected)  # /predict and V2 infer: plain routes, see them
        routes = [*predict.documented(protected), *app.routes, *v2.documented(protected)]
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=routes
        )
        body = request_model.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(body.pop("$defs", {}))
        components[predict.REQUEST_SCHEMA] = body
        feedback_body = schemas.FeedbackRequest.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        components.update(feedback_body.pop("$defs", {}))
        components["FeedbackRequest"] = feedback_body
        components.update(v2_schemas.components())
        app.openapi_schema = schema
    return app.openapi_schema


def capture_unavailable() -> str:
    """Why capture can't run here ("" if it can): it needs the `capture` extra."""
    try:
        import fsspec  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError as exc:
        return (
            f"CAPTURE_ENABLED=true needs the capture extra (pip install '.[serve,capture]'): {exc}"
        )
    return ""


def start_capture(settings: Settings, card: ModelCard, telemetry: Telemetry, key: bytes) -> Any:
    """The running capture writer (imported only when on: pyarrow is an extra)."""
    from api.feedback.capture import Capture

    capture = Capture(settings.capture, card, telemetry.quality, key)
    capture.start()
    return capture


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for `settings` (default: from the environment)."""
    settings = settings or Settings()
    card: ModelCard | None = None
    card_error = ""
    telemetry: Telemetry | None = None
    try:  # once: the request schema, the metrics and the model all come from this card
        card = read_card(settings.model_dir, settings.model_version)
        schemas.request_model(card, settings.max_batch)  # must build, or the card is refused
        telemetry = Telemetry(card)
    except CardError as exc:
        log.error("model not loaded, serving a generic schema: %s", exc)
        card, card_error = None, str(exc)
    except Exception as exc:  # a card that validates but breaks the app: refuse it, stay up
        card_error = f"{settings.model_dir}: unusable model card ({type(exc).__name__}: {exc})"
        log.error("model not loaded, serving a generic schema: %s", card_error)
        card = None
    if telemetry is None or card is None:
        telemetry = Telemetry(None)
    gate = Gate()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Loading runs before the server accepts connections, so blocking here is harmless.
        if card is None:
            state = State(card=None, error=card_error)
        else:
            state = load(settings.model_dir, card, settings.use_onnx, settings.max_model_bytes)
        try:
            keys = feedback_keys.load(settings.feedback)
        except feedback_keys.FeedbackKeyError as exc:
            log.error("not ready: %s", exc)
            state = State(card=card, error=f"prediction ids can't be signed: {exc}")
        if settings.capture.enabled and state.model is not None:
            missing = capture_unavailable()
            if missing:
                log.error("not ready: %s", missing)
                state = State(card=card, error=missing)
        app.state.model = state
        if state.model is not None:
            loaded = state.model
            feedback_keys.warn_if_generated(keys)
            telemetry.bind(loaded.card, loaded.load_seconds, loaded.loaded_at)
            parser = Parser(
                request_model,
                loaded.card.features,
                settings.max_batch,
                ignored=loaded.card.ignored_columns,
            )
            signer = Signer(keys.keys, loaded.card.version, loaded.card.classes)
            capture = None
            if settings.capture.enabled:
                hash_key = hmac.digest(keys.keys[0], b"capture-column-hash", "sha256")
                capture = start_capture(settings, loaded.card, telemetry, hash_key)
                log.info(
                    "capturing %g of predicted rows to %s",
                    settings.capture.sample,
                    settings.capture.url,
                )
            app.state.capture = capture
            ledger = Ledger(signer, loaded.card, settings.feedback, telemetry.quality, capture)
            app.state.ledger = ledger
            app.state.batcher = gate.batcher = Batcher(parser, loaded, telemetry, settings, ledger)
            app.state.v2_codec = V2Codec(loaded.card, settings.max_batch)
            telemetry.queue_depth = gate.batcher.depth
        telemetry.start()
        # Everything loaded so far (sklearn, pandas, the model) lives as long as the process:
        # keep it out of the cyclic GC, whose full passes over it were the p99 latency.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if state.model is not None:
                app.state.batcher.close()
                if app.state.capture is not None:  # after the model thread: nothing more comes
                    app.state.capture.close()
            telemetry.stop()

    title = f"{card.name} {card.version} ({card.task})" if card else "model server (no model)"
    app = FastAPI(
        title=title,
        version=card.version if card else "0",
        description="Predictions from the model bundle in MODEL_DIR. See docs/serving.md.",
        lifespan=lifespan,
        # FastAPI's native OpenTelemetry checks for a provider on every request (~4 % of
        # req/s here); /metrics already covers it. OTEL=true turns it on for tracing.
        telemetry={"tracing": settings.otel, "metrics": settings.otel, "logs": settings.otel},
    )
    app.state.settings = settings
    app.state.telemetry = telemetry
    app.state.model = State(card=card, error="still loading")
    app.state.lifecycle = Lifecycle()
    errors.install(app, settings.retry_after_seconds)
    app.add_exception_handler(HTTPException, v2_endpoints.http_error)  # {"error": …} under /v2
    request_model = schemas.request_model(card, settings.max_batch)
    protected = settings.api_key is not None and bool(settings.api_key.get_secret_value())
    app.state.protected = protected
    routers = [predict.build(protected), v2.build(protected)]  # the busy routes first
    routers += [feedback.build(protected)]
    routers += [health.router, model.build(protected), scrape.router]
    for router in routers:
        app.include_router(router)
    app.openapi = lambda: openapi(app, request_model)  # type: ignore[method-assign]
    paths = frozenset(getattr(r, "path", "") for router in routers for r in router.routes)
    paths |= {p for p in (app.openapi_url, app.docs_url, app.redoc_url) if p}
    app.add_middleware(LimitBody, limit=settings.max_body_bytes, telemetry=telemetry)
    app.add_middleware(
        Admit,
        telemetry=telemetry,
        deadline=settings.deadline_seconds,
        retry_after=settings.retry_after_seconds,
        gate=gate,
    )
    app.add_middleware(Observe, telemetry=telemetry, paths=paths)  # outermost: sees 413s too
    return app
