"""The model card of the served model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ApiKey, ModelDep
from api.schemas import Error


def build(protected: bool) -> APIRouter:
    """The router; the API-key check (and its OpenAPI security entry) only when API_KEY is set."""
    router = APIRouter(tags=["model"])
    responses: dict[int | str, dict[str, Any]] = {503: {"model": Error}}
    if protected:
        responses[401] = {"model": Error}

    @router.get(
        "/model",
        dependencies=[ApiKey] if protected else [],
        responses=responses,
        summary="The model card: version, task, features, metrics, training params",
    )
    async def model_card(model: ModelDep) -> dict[str, Any]:
        return {**model.card.model_dump(mode="json"), "serving": {"backend": model.backend.name}}

    return router
