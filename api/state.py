"""What the app loads once: the model card (read when the app is built), the verified model
(in the lifespan), and why it failed if it did; and whether the process is draining.

A missing, corrupt or mismatched model does not stop the process: `/health` stays 200,
`/ready` and `/predict` answer 503 with the reason. Kubernetes then keeps the pod out of
the load balancer and shows the reason in its probe events, instead of a crash loop.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

from mlops_template.core import bundle
from mlops_template.core import card as cards
from mlops_template.core.card import ModelCard
from mlops_template.core.errors import ModelLoadError

from api.inference import Backend, choose, probe_rows
from api.records import Records

log = logging.getLogger(__name__)


def read_card(model_dir: Path, version: str | None = None) -> ModelCard:
    """The validated `model_dir/model_card.json`; `version` overrides the card's version."""
    card = cards.read(model_dir)
    return card.model_copy(update={"version": version}) if version else card


@dataclass(frozen=True)
class Loaded:
    """A verified model ready to serve."""

    card: ModelCard
    backend: Backend
    load_seconds: float
    loaded_at: float


@dataclass
class Lifecycle:
    """The process's phase: set to draining by the worker when SIGTERM arrives
    (`api.worker`), so /ready answers 503 while in-flight requests finish."""

    draining_since: float | None = None

    def drain(self) -> None:
        if self.draining_since is None:
            self.draining_since = time.monotonic()


@dataclass(frozen=True)
class State:
    """The app's model state: `model` when ready, else `error` says why not."""

    card: ModelCard | None
    model: Loaded | None = None
    error: str | None = None


def load(
    model_dir: Path, card: ModelCard, use_onnx: bool, max_bytes: int = bundle.MAX_MODEL_BYTES
) -> State:
    """Check the model's file, sha256 and types against the card, pick the backend and try it
    on probe rows; never raises (a model that fails is a 503 with the reason, not a crash)."""
    started = time.perf_counter()
    model_file = model_dir / card.model_file
    try:
        pipeline = bundle.load_model(model_dir, card, max_bytes)
    except ModelLoadError as exc:
        log.error("model not loaded: %s", exc)
        return State(card=card, error=str(exc))
    if card.task == "classification":
        # Probability columns follow the estimator's classes; answers use the card's names.
        fitted = [str(c) for c in getattr(pipeline, "classes_", [])]
        if fitted != card.classes:
            error = f"{model_file}: classes {fitted} differ from the model card's {card.classes}"
            log.error("model not loaded: %s", error)
            return State(card=card, error=error)
    try:
        backend = choose(pipeline, card.features, card.task, card.drift_reference, use_onnx)
        backend.run(Records(probe_rows(card.features, card.drift_reference, 8)))
    except Exception as exc:  # whatever a wrong model raises, the process must stay up
        error = f"{model_file}: the model fails on probe rows ({type(exc).__name__}: {exc})"
        log.error("model not loaded: %s", error[:1000])
        return State(card=card, error=error[:1000])
    seconds = time.perf_counter() - started
    log.info("model %s %s loaded in %.2f s (%s)", card.name, card.version, seconds, backend.name)
    return State(card=card, model=Loaded(card, backend, seconds, time.time()))
