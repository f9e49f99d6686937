"""The V2 bodies as pydantic models, for the OpenAPI document only.

The routes read raw bodies (`api.v2.codec`), so these models never validate a request; they
describe what the codec accepts and what the routes answer, field for field with the
protocol's REST schema (plus `parameters` in the model metadata, which the protocol allows
as scalars).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Datatype = Literal[
    "BOOL",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "FP16",
    "FP32",
    "FP64",
    "BYTES",
]
Parameters = dict[str, str | int | float | bool]
STRICT = ConfigDict(extra="forbid")
INFER_REQUEST = "InferenceRequest"


class V2Error(BaseModel):
    error: str = Field(description="What went wrong, naming the input or output")


class Live(BaseModel):
    live: bool


class Ready(BaseModel):
    ready: bool
    error: str | None = Field(None, description="Why not, when not ready")


class ModelReady(Ready):
    name: str


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(BaseModel):
    name: str
    datatype: Datatype
    shape: list[int] = Field(description="-1 for the batch dimension")


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    parameters: Parameters = Field(
        description="task; classes (JSON list: the order of the probabilities' columns); "
        "nullable_inputs (JSON list: inputs that take null or may be left out)"
    )


class RequestInput(BaseModel):
    model_config = STRICT

    name: str = Field(description="A feature name (or any name for the single-tensor form)")
    shape: list[int] = Field(min_length=1, description="[n] or [n, 1]; [n, features]")
    datatype: Datatype
    parameters: Parameters | None = None
    data: list[Any] = Field(description="Row-major values, flat or nested; null = missing")


class RequestOutput(BaseModel):
    model_config = STRICT

    name: str
    parameters: Parameters | None = None


class InferenceRequest(BaseModel):
    model_config = STRICT

    id: str | None = Field(None, description="Echoed in the response")
    parameters: Parameters | None = None
    inputs: list[RequestInput] = Field(min_length=1)
    outputs: list[RequestOutput] | None = Field(None, description="Default: every output")


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: Datatype
    data: list[Any]


class InferenceResponse(BaseModel):
    model_config = ConfigDict(protected_namespaces=())

    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[ResponseOutput]


def components() -> dict[str, Any]:
    """The request body schema and the ones it refers to, for `components/schemas`."""
    schema = InferenceRequest.model_json_schema(ref_template="#/components/schemas/{model}")
    defs: dict[str, Any] = schema.pop("$defs", {})
    return {**defs, INFER_REQUEST: schema}
