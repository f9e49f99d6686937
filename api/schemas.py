"""Request and response schemas. The record schema is built from the model card at start-up,
so `/docs` shows the real feature names and types."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, create_model

from mlops_template.core.schema import Feature

from mlops_template.core.card import ModelCard
from mlops_template.core.drift import FeatureBins, NumericBins

TYPES: dict[str, type] = {"numeric": float, "categorical": str, "boolean": bool}


def example_value(feature: Feature, reference: dict[str, FeatureBins]) -> Any:
    """A typical value: the middle training bin edge, the first category, or false."""
    if feature.kind == "categorical":
        return feature.categories[0] if feature.categories else "a"
    if feature.kind == "boolean":
        return False
    bins = reference.get(feature.name)
    edges = bins.edges if isinstance(bins, NumericBins) else []
    if edges:
        return float(f"{edges[len(edges) // 2]:.6g}")
    low, high = feature.minimum or 0.0, feature.maximum or 0.0
    return float(f"{(low + high) / 2:.6g}")


def example_record(card: ModelCard) -> dict[str, Any]:
    features = card.drift_reference.features
    return {f.name: example_value(f, features) for f in card.features}


def _describe(feature: Feature) -> str:
    if feature.kind == "categorical":
        shown = ", ".join(feature.categories[:20])
        more = " …" if len(feature.categories) > 20 else ""
        return f"categorical (training categories: {shown}{more}; others are accepted)"
    if feature.kind == "numeric" and feature.minimum is not None:
        return f"numeric (training range {feature.minimum:g} … {feature.maximum:g})"
    return feature.kind


def record_model(card: ModelCard | None) -> type[BaseModel]:
    """One record: a field per feature (alias = feature name), unknown fields refused."""
    # strict: "1.5" is not a number and "no" is not a boolean (JSON ints are still numbers).
    config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)
    if card is None:  # no usable card: accept any object; /predict answers 503 anyway
        return create_model("Record", __config__=ConfigDict(extra="allow"))
    fields: dict[str, Any] = {}
    for i, feature in enumerate(card.features):
        kind: Any = TYPES[feature.kind]
        annotation = kind | None if feature.nullable else kind
        default = None if feature.nullable else ...
        description = _describe(feature) + ("; null = missing" if feature.nullable else "")
        fields[f"f{i}"] = (
            annotation,
            Field(default, alias=feature.name, description=description),
        )
    for i, name in enumerate(card.ignored_columns):
        fields[f"ignored{i}"] = (
            Any,
            Field(None, alias=name, description="not a feature (e.g. an ID): accepted, ignored"),
        )
    example = example_record(card)
    config["json_schema_extra"] = {"examples": [example]}
    model: type[BaseModel] = create_model("Record", __config__=config, **fields)
    return model


def request_model(card: ModelCard | None, max_batch: int) -> type[BaseModel]:
    """`{"records": [record, …]}` with 1 … max_batch records."""
    record = record_model(card)
    examples: list[Any] = [{"records": [example_record(card)]}] if card is not None else []
    field = Field(
        ...,
        min_length=1,
        max_length=max_batch,
        description=f"One to {max_batch} records to predict.",
    )
    config = ConfigDict(extra="forbid", json_schema_extra={"examples": examples})
    records: Any = list[record]  # type: ignore[valid-type]
    model: type[BaseModel] = create_model(
        "PredictRequest", __config__=config, records=(records, field)
    )
    return model


class Prediction(BaseModel):
    prediction: str | float = Field(description="Predicted class label, or value (regression)")
    probabilities: dict[str, float] | None = Field(
        None, description="Probability of each class (classification only)"
    )
    id: str = Field(description="Signed prediction id: send it back with the label to /feedback")


class PredictResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_version: str
    predictions: list[Prediction]


class FeedbackItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="The id /predict gave the prediction")
    # Any JSON value: a label of the wrong type is refused for its item alone (the answer's
    # `refused`), not for the whole request.
    label: Any = Field(description="The true class name (classification) or value (regression)")


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    feedback: list[FeedbackItem] = Field(min_length=1, description="One to MAX_BATCH labels")


class Refused(BaseModel):
    index: int = Field(description="Position of the item in the request")
    reason: str = Field(
        description="malformed_id, bad_signature, expired_id, wrong_model, duplicate, "
        "wrong_label_type, unknown_class or out_of_range"
    )
    detail: str


class FeedbackResponse(BaseModel):
    accepted: int = Field(description="Labels accepted (scored and, with capture on, stored)")
    refused: list[Refused]


class Error(BaseModel):
    detail: str = Field(description="What went wrong, naming the field when there is one")


class Health(BaseModel):
    status: str
    pid: int


class Ready(BaseModel):
    ready: bool
    reason: str | None = None
    model: str | None = None
    version: str | None = None
    backend: str | None = None


class ValidationErrorItem(BaseModel):
    loc: list[str | int] = Field(description="Where: body, records, index, feature name")
    msg: str = Field(description="The field and the problem, e.g. `records[0].age: Field required`")
    type: str = Field(description="pydantic error type, e.g. missing, finite_number")


class ValidationErrors(BaseModel):
    detail: list[ValidationErrorItem]
