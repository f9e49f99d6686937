"""The model card of the served model."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ApiKey, ModelDep
from api.schemas import Error

router = APIRouter(tags=["model"])


@router.get(
    "/model",
    dependencies=[ApiKey],
    responses={401: {"model": Error}, 503: {"model": Error}},
    summary="The model card: version, task, features, metrics, training params",
)
async def model_card(model: ModelDep) -> dict[str, Any]:
    card = model.card
    return {**card.raw, "version": card.version, "serving": {"backend": model.backend.name}}
