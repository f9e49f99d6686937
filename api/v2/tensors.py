"""The model as V2 tensors: one input per feature, the outputs per task, and the metadata.

Inputs: one tensor per feature, named as the feature, shape [-1] (one value per row; [n, 1]
is accepted too). The declared datatype is FP64 for numeric features, BYTES for categorical
and BOOL for boolean ones; numeric features also take the other number types (FP32, FP16,
INT*, UINT*), as the protocol lets a server coerce.
Outputs: classifiers answer `label` (BYTES [n], the predicted class) and `probabilities`
(FP64 [n, classes], columns in the order of the card's classes, listed in the metadata's
`parameters.classes`); regressors answer `value` (FP64 [n]). Both answer `prediction_id`
(BYTES [n]): each row's signed prediction id, the `id` a /predict row carries, for
POST /feedback (docs/feedback.md).
"""

from __future__ import annotations

import json
from typing import Any

from mlops_template import __version__
from mlops_template.core.card import ModelCard

SERVER_NAME = "mlops-template"
PLATFORM = "sklearn_skops"  # "<project>_<format>", as the protocol names platforms
LABEL, PROBABILITIES, VALUE = "label", "probabilities", "value"
PREDICTION_ID = "prediction_id"

DECLARED = {"numeric": "FP64", "categorical": "BYTES", "boolean": "BOOL"}
INTEGER_RANGES = {  # the values each integer datatype holds
    **{f"INT{bits}": (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) for bits in (8, 16, 32, 64)},
    **{f"UINT{bits}": (0, (1 << bits) - 1) for bits in (8, 16, 32, 64)},
}
INTEGER_TYPES = frozenset(INTEGER_RANGES)
ACCEPTED: dict[str, frozenset[str]] = {
    "numeric": frozenset({"FP16", "FP32", "FP64"}) | INTEGER_TYPES,
    "categorical": frozenset({"BYTES"}),
    "boolean": frozenset({"BOOL"}),
}


def output_names(card: ModelCard) -> tuple[str, ...]:
    return tuple(t["name"] for t in output_tensors(card))


def output_tensors(card: ModelCard) -> list[dict[str, Any]]:
    ids = {"name": PREDICTION_ID, "datatype": "BYTES", "shape": [-1]}
    if card.task == "classification":
        return [
            {"name": LABEL, "datatype": "BYTES", "shape": [-1]},
            {"name": PROBABILITIES, "datatype": "FP64", "shape": [-1, len(card.classes)]},
            ids,
        ]
    return [{"name": VALUE, "datatype": "FP64", "shape": [-1]}, ids]


def model_metadata(card: ModelCard) -> dict[str, Any]:
    """GET /v2/models/{name}: the protocol's fields, plus `parameters` (scalars, as the
    protocol's parameters must be) naming the task, the class order and the nullable inputs."""
    parameters: dict[str, str] = {"task": card.task}
    if card.task == "classification":
        parameters["classes"] = json.dumps(card.classes)
    parameters["nullable_inputs"] = json.dumps([f.name for f in card.features if f.nullable])
    return {
        "name": card.name,
        "versions": [card.version],
        "platform": PLATFORM,
        "inputs": [
            {"name": f.name, "datatype": DECLARED[f.kind], "shape": [-1]} for f in card.features
        ],
        "outputs": output_tensors(card),
        "parameters": parameters,
    }


def server_metadata() -> dict[str, Any]:
    """GET /v2: no protocol extensions (binary tensor data, classification, … are not served)."""
    return {"name": SERVER_NAME, "version": __version__, "extensions": []}
