"""The feature schema: inferred from training data, stored in the model card, used by serving.

One `coerce` turns any frame (training split or API request) into the dtypes the fitted
pipeline expects, so training and serving can't skew.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from mlops_template.core.errors import StageError

Kind = Literal["numeric", "categorical", "boolean"]
# A numeric label with at most this many distinct integer values is taken as classes.
MAX_INFERRED_CLASSES = 20
# What a missing categorical value becomes before one-hot encoding (training and serving).
MISSING = "__missing__"


@dataclass(frozen=True)
class Feature:
    """One input column as the model saw it in training."""

    name: str
    kind: Kind
    nullable: bool
    categories: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["categories"] = list(self.categories)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Feature:
        return cls(
            name=str(data["name"]),
            kind=data["kind"],
            nullable=bool(data["nullable"]),
            categories=tuple(str(c) for c in data.get("categories", ())),
            minimum=data.get("minimum"),
            maximum=data.get("maximum"),
        )


def infer_task(labels: pd.Series) -> Literal["classification", "regression"]:
    """Classification for text/bool labels or few integer values; regression otherwise."""
    values = labels.dropna()
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return "classification"
    is_integral = bool(np.all(np.mod(values.to_numpy(dtype=float), 1) == 0))
    if is_integral and values.nunique() <= MAX_INFERRED_CLASSES:
        return "classification"
    return "regression"


def task_reason(labels: pd.Series, task: str) -> str:
    """Why `infer_task` chose `task` for `labels`, and how to choose the other one."""
    values = labels.dropna()
    distinct = values.nunique()
    if task == "classification":
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            return "inferred from text or true/false labels"
        return (
            f"inferred from {distinct:,} distinct whole-number labels (at most "
            f"{MAX_INFERRED_CLASSES}); data.task: regression if they are quantities"
        )
    return (
        f"inferred from {distinct:,} distinct numeric labels; data.task: classification "
        "if they are classes"
    )


def _kind(column: pd.Series) -> Kind:
    if pd.api.types.is_bool_dtype(column):
        return "boolean"
    # true/false with missing values: pandas keeps them as objects (CSV, Parquet alike)
    if pd.api.types.is_object_dtype(column) and column.notna().any():
        if pd.api.types.infer_dtype(column, skipna=True) == "boolean":
            return "boolean"
    if pd.api.types.is_numeric_dtype(column):
        return "numeric"
    return "categorical"


def infer(frame: pd.DataFrame, rows: np.ndarray | None = None) -> list[Feature]:
    """Infer one Feature per column of `frame` (features only, no label), from the rows at
    positions `rows` if given (one column copied at a time, not the frame)."""
    features = []
    for name in frame.columns:
        column = frame[name] if rows is None else frame[name].iloc[rows]
        kind = _kind(column)
        present = column.dropna()
        categories: tuple[str, ...] = ()
        minimum = maximum = None
        if kind == "categorical":
            categories = tuple(sorted({str(v) for v in present}))
        elif kind == "numeric" and len(present):
            minimum, maximum = float(present.min()), float(present.max())
        features.append(
            Feature(
                name=str(name),
                kind=kind,
                nullable=bool(column.isna().any()),
                categories=categories,
                minimum=minimum,
                maximum=maximum,
            )
        )
    return features


def coerce(frame: pd.DataFrame, features: list[Feature]) -> pd.DataFrame:
    """Columns in schema order with the dtypes the pipeline was fitted on.

    numeric and boolean → float64 (NaN for missing); categorical → object str (NaN for missing).
    """
    missing = [f.name for f in features if f.name not in frame.columns]
    if missing:
        raise StageError(f"missing feature column(s): {', '.join(missing)}")
    out: dict[str, Any] = {}
    for feature in features:
        column = frame[feature.name]
        if feature.kind == "categorical":
            cells = [np.nan if pd.isna(v) else str(v) for v in column.tolist()]
            out[feature.name] = pd.Series(cells, index=frame.index, dtype=object)
        else:
            try:
                out[feature.name] = pd.to_numeric(column, errors="raise").astype("float64")
            except (ValueError, TypeError) as exc:
                raise StageError(f"column '{feature.name}': expected numbers ({exc})") from exc
    return pd.DataFrame(out, index=frame.index, copy=False)  # no copy of the number columns


def to_json(features: list[Feature]) -> list[dict[str, Any]]:
    return [f.to_dict() for f in features]


def from_json(data: list[dict[str, Any]]) -> list[Feature]:
    return [Feature.from_dict(d) for d in data]
