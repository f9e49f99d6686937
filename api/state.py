"""What the lifespan loads once: the model card, the verified model, and why it failed if it did.

A missing, corrupt or mismatched model does not stop the process: `/health` stays 200,
`/ready` and `/predict` answer 503 with the reason. Kubernetes then keeps the pod out of
the load balancer and shows the reason in its probe events, instead of a crash loop.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template.core import schema
from mlops_template.core.errors import ModelLoadError
from mlops_template.core.bundle import load as load_bundle
from mlops_template.core.schema import Feature

from api.inference import Backend, choose

log = logging.getLogger(__name__)

CARD_FILE = "model_card.json"


class CardError(ValueError):
    """The model card is missing or unreadable."""


@dataclass(frozen=True)
class Card:
    """The parts of the model card the server uses (and the card itself for `/model`)."""

    raw: dict[str, Any]
    features: list[Feature]
    task: str
    classes: list[str]
    name: str
    version: str

    @property
    def reference(self) -> dict[str, Any]:
        ref: dict[str, Any] = self.raw.get("drift_reference") or {}
        return ref


def read_card(model_dir: Path, version: str | None = None) -> Card:
    """Read and check `model_dir/model_card.json`; `version` overrides the card's version."""
    path = model_dir / CARD_FILE
    try:
        raw = json.loads(path.read_text())
        features = schema.from_json(raw["features"])
        task = str(raw["task"])
        if task not in ("classification", "regression"):
            raise CardError(f"{path}: task must be classification or regression, not {task!r}")
        return Card(
            raw=raw,
            features=features,
            task=task,
            classes=[str(c) for c in raw.get("classes") or []],
            name=str(raw.get("name", "model")),
            version=version or str(raw.get("version", "unknown")),
        )
    except OSError as exc:
        raise CardError(f"{path}: can't be read ({exc.strerror})") from exc
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise CardError(f"{path}: not a valid model card ({type(exc).__name__}: {exc})") from exc


@dataclass(frozen=True)
class Loaded:
    """A verified model ready to serve."""

    card: Card
    backend: Backend
    load_seconds: float
    loaded_at: float


@dataclass(frozen=True)
class State:
    """The app's model state: `model` when ready, else `error` says why not."""

    card: Card | None
    model: Loaded | None = None
    error: str | None = None


def load(model_dir: Path, version: str | None, use_onnx: bool) -> State:
    """Read the card, check the model's sha256 and types, pick the backend; never raises."""
    started = time.perf_counter()
    try:
        card = read_card(model_dir, version)
    except CardError as exc:
        log.error("model not loaded: %s", exc)
        return State(card=None, error=str(exc))
    model_file = model_dir / str(card.raw.get("model_file", "model.skops"))
    expected = card.raw.get("sha256")
    if not isinstance(expected, str):
        error = f"{model_dir / CARD_FILE}: no sha256 for the model file"
        log.error("model not loaded: %s", error)
        return State(card=card, error=error)
    try:
        pipeline = load_bundle(model_file, expected)
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
    backend = choose(pipeline, card.features, card.task, card.reference, use_onnx)
    seconds = time.perf_counter() - started
    log.info("model %s %s loaded in %.2f s (%s)", card.name, card.version, seconds, backend.name)
    return State(card=card, model=Loaded(card, backend, seconds, time.time()))
