"""The model card: everything the API needs to know about the model next to it, as one typed class.

The evaluate stage writes it; the API, the drift report and the retrain comparison read it
through `read`, which validates every field. `schema_version` tells a reader which layout a
card has: the retrain job reads the production model's card, which may be older than the
code (cards without the field are version 0, the same fields as version 1; version 2 adds the
optional `importance`). A card newer than this code is refused. The JSON schema
(`python -m mlops_template.core.card`) is docs/model-card.schema.json.
"""

from __future__ import annotations

import json
import platform
import re
from pathlib import Path
from typing import Any, Literal

import sklearn
import skops
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic import model_validator

from mlops_template.core import io, paths
from mlops_template.core.drift import CategoricalBins, DriftReference, NumericBins
from mlops_template.core.errors import CardError
from mlops_template.core.schema import Feature

SCHEMA_VERSION = 2
IMPORTANCE_TOP = 30  # features listed in the card (all of them: reports/importance.json)
MODEL_NAME = "model"  # the artifact name in dvc.yaml and in the GTO registry
FILE_NAME = paths.MODEL_CARD.name
# A plain file name: no folder, no "..", not absolute, not hidden.
FILE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
MAX_BYTES = 64 << 20  # a card is kilobytes; this bounds what a hostile one can make a reader hold


class FeatureImportance(BaseModel):
    """How much the metric drops when this feature's values are shuffled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    feature: str
    mean: float = Field(description="Mean drop over the repeats (negative: the feature is noise)")
    std: float = Field(description="Standard deviation over the repeats")


class Importance(BaseModel):
    """Permutation importance on the test split, most important feature first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: str = Field(description="The metric whose drop is measured (gate.metric)")
    repeats: int = Field(ge=1, description="Shuffles per feature")
    rows: int = Field(ge=0, description="Test rows used")
    features: list[FeatureImportance] = Field(
        description=f"The {IMPORTANCE_TOP} most important features"
    )


class ModelCard(BaseModel):
    """The contract between training and serving: the API needs nothing else."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    schema_version: int = Field(0, ge=0, description="Card layout; absent in version-0 cards")
    name: str = Field(description="The artifact name in dvc.yaml and the model registry")
    version: str = Field(description="The first 12 hex digits of the model file's sha256")
    task: Literal["classification", "regression"]
    target: str = Field(description="The label column")
    classes: list[str] = Field(
        description="Class labels in the model's output order; [] for regression"
    )
    model: str = Field(description="The model family (train.model)")
    features: list[Feature] = Field(description="The inputs, in the order the pipeline takes them")
    metrics: dict[str, float] = Field(description="Test-split metrics")
    params: dict[str, Any] = Field(description="params.yaml as the pipeline read it")
    history: list[dict[str, int | float]] = Field(
        description="Per-epoch training/validation scores"
    )
    model_file: str = Field(
        description="The skops file next to the card: a plain file name, no folder",
        json_schema_extra={"pattern": FILE_NAME_PATTERN.pattern},
    )
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="sha256 of the model file")
    drift_reference: DriftReference
    runtime: dict[str, str] = Field(description="Library versions the model was trained with")
    importance: Importance | None = Field(
        None, description="Permutation importance on the test split (version 2; else absent)"
    )

    @field_validator("model_file")
    @classmethod
    def _plain_file_name(cls, value: str) -> str:
        if not FILE_NAME_PATTERN.match(value):
            raise ValueError(
                f"{value[:100]!r} is not a plain file name in the model folder "
                "(no folder, '..' or absolute path)"
            )
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ModelCard:
        """What readers rely on beyond the field types (a wrong card fails here, not later)."""
        names = [f.name for f in self.features]
        if not names or len(set(names)) != len(names) or "" in names:
            raise ValueError("features: names must be present, non-empty and unique")
        for name, bins in self.drift_reference.features.items():
            kind = next((f.kind for f in self.features if f.name == name), None)
            if kind is None:
                raise ValueError(f"drift_reference.features.{name}: not a feature of the card")
            if (kind == "categorical") != isinstance(bins, CategoricalBins):
                raise ValueError(
                    f"drift_reference.features.{name}: bins don't fit a {kind} feature"
                )
        for where, ref in [
            *(
                (f"drift_reference.features.{n}", b)
                for n, b in self.drift_reference.features.items()
            ),
            ("drift_reference.prediction", self.drift_reference.prediction),
        ]:
            size = len(ref.categories) if isinstance(ref, CategoricalBins) else len(ref.edges) + 1
            if len(ref.proportions) != size:
                raise ValueError(f"{where}: {len(ref.proportions)} proportions for {size} bins")
            if isinstance(ref, NumericBins) and ref.edges != sorted(ref.edges):
                raise ValueError(f"{where}: edges are not sorted")
        prediction = self.drift_reference.prediction
        if self.task == "classification":
            if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
                raise ValueError("classes: a classifier needs two or more distinct classes")
            if not isinstance(prediction, CategoricalBins) or prediction.categories != self.classes:
                raise ValueError("drift_reference.prediction: must be the classes' bins")
        elif self.classes or not isinstance(prediction, NumericBins):
            raise ValueError("classes: a regression card has no classes and numeric bins")
        return self


def build(
    info: dict[str, Any],
    metrics: dict[str, float],
    params: dict[str, Any],
    drift_reference: DriftReference,
    model_file: str,
    importance: dict[str, Any] | None = None,
) -> ModelCard:
    """Assemble the card from the train stage's info and the evaluate stage's results."""
    return ModelCard(
        schema_version=SCHEMA_VERSION,
        name=MODEL_NAME,
        version=info["sha256"][:12],
        task=info["task"],
        target=info["target"],
        classes=info["classes"],
        model=info["model"],
        features=info["features"],
        metrics=metrics,
        params=params,
        history=info["history"],
        model_file=model_file,
        sha256=info["sha256"],
        drift_reference=drift_reference,
        runtime={
            "python": platform.python_version(),
            "scikit-learn": sklearn.__version__,
            "skops": skops.__version__,
        },
        importance=(
            None
            if importance is None
            else {**importance, "features": importance["features"][:IMPORTANCE_TOP]}
        ),
    )


def write(card: ModelCard, path: Path) -> None:
    io.write_json(path, card.model_dump(mode="json"))


def read(path: Path) -> ModelCard:
    """The card at `path` (a .json file, or the model folder holding it), validated."""
    if path.suffix != ".json":
        path = path / FILE_NAME
    try:
        raw = json.loads(io.read_regular(path, MAX_BYTES))
    except OSError as exc:
        raise CardError(f"{path}: can't be read ({exc.strerror})") from exc
    except io.FileRefused as exc:
        raise CardError(f"{path}: refused: {exc}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise CardError(f"{path}: not JSON ({exc})") from exc
    version = raw.get("schema_version", 0) if isinstance(raw, dict) else 0
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise CardError(
            f"{path}: schema_version {version} is newer than this code reads ({SCHEMA_VERSION})"
        )
    try:
        return ModelCard.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "card"
        errors = f"{exc.error_count()} error(s); {where[:200]}: {first['msg'][:300]}"
        raise CardError(f"{path}: not a valid model card ({errors})") from None


def json_schema() -> dict[str, Any]:
    return ModelCard.model_json_schema()


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
