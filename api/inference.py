"""Inference without pandas on the hot path.

The fitted ColumnTransformer of the bundle (median imputer + scaler + optional clip for numbers,
constant imputer + one-hot encoder for categories, rare and unseen ones in one "other" column)
is a handful of arrays; `FastPath` applies them with numpy and runs the estimator exported to
ONNX. It is checked against the sklearn pipeline on probe rows at load time. Any pipeline it
does not recognise, an export that fails, or a probe that disagrees makes the server fall
back — logged — to the sklearn pipeline (`mlops_template.core.predict`), which is exact but
about 1000x slower.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mlops_template.core.predict import predict_frame
from mlops_template.core.drift import DriftReference, NumericBins
from mlops_template.core.schema import MISSING, Feature

from api import encoders, estimators
from api.encoders import Unsupported
from api.records import Records

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """Raw model output: probabilities (n, classes) for classifiers, values (n,) for regression."""

    proba: np.ndarray | None
    values: np.ndarray | None


class Backend(Protocol):
    name: str

    def run(self, records: Records) -> Output: ...


class SklearnBackend:
    """The reference path: a DataFrame through the whole sklearn pipeline (`predict_frame`)."""

    name = "sklearn"

    def __init__(self, pipeline: Any, features: list[Feature], task: str) -> None:
        self.pipeline, self.features, self.task = pipeline, features, task
        self.columns = [f.name for f in features]

    def run(self, records: Records) -> Output:
        frame = pd.DataFrame(list(records.rows), columns=self.columns)
        values, proba = predict_frame(self.pipeline, frame, self.features, self.task)
        if proba is not None:
            return Output(np.asarray(proba, dtype=float), None)
        return Output(None, np.asarray(values, dtype=float))


def _single(pipeline: Any, kinds: tuple[type, ...]) -> list[Any]:
    steps = [step for _, step in pipeline.steps]
    if [type(s).__name__ for s in steps] != [k.__name__ for k in kinds]:
        raise Unsupported(f"unexpected steps {[type(s).__name__ for s in steps]}")
    return steps


class FastPath:
    """numpy preprocessing + the estimator in numpy (linear models) or ONNX (the rest)."""

    name = "onnx"

    def __init__(self, pipeline: Any, features: list[Feature], task: str) -> None:
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import OneHotEncoder

        if len(pipeline.steps) != 2 or not isinstance(pipeline.steps[0][1], ColumnTransformer):
            raise Unsupported("expected Pipeline([ColumnTransformer, estimator])")
        ct, self.estimator = pipeline.steps[0][1], pipeline.steps[1][1]
        self.task = task
        position = {f.name: i for i, f in enumerate(features)}
        self.num_idx: list[int] = []
        self.cat_idx: list[int] = []
        self.lookups: list[dict[str, int]] = []
        width = 0
        self.clip: float | None = None
        self.defaults: list[int | None] = []  # per categorical feature: column of unknowns
        for name, part, columns in ct.transformers_:
            if name == "remainder":
                if part != "drop" and len(columns):
                    raise Unsupported("remainder columns are passed through")
                continue
            if name == "numeric":
                self._numeric(part, columns, position)
                width += len(columns)
            elif name == "categorical":
                imputer, encoder = _single(part, (SimpleImputer, OneHotEncoder))
                if encoder.drop is not None:
                    raise Unsupported("one-hot encoder drops categories")
                unknown = encoder.handle_unknown
                if unknown not in ("ignore", "infrequent_if_exist"):
                    raise Unsupported(f"unknown categories handled by {unknown!r}")
                if imputer.fill_value != MISSING:
                    raise Unsupported("missing values handled differently")
                self.cat_idx = [position[c] for c in columns]
                self.cat_offset = width
                rare = getattr(encoder, "infrequent_categories_", [None] * len(columns))
                for cats, infrequent in zip(encoder.categories_, rare):
                    lookup, width, default = encoders.one_hot_columns(cats, infrequent, width)
                    self.lookups.append(lookup)
                    self.defaults.append(default if unknown == "infrequent_if_exist" else None)
                if width - self.cat_offset != len(encoder.get_feature_names_out()):
                    raise Unsupported("one-hot columns are not the categories the encoder keeps")
            else:
                raise Unsupported(f"unknown transformer {name!r}")
        self.width = width
        self.dtype: Any = np.float64
        self.output = ""
        self.session: Any = None
        self.linear = self._linear()
        self.float32_trees = encoders.sklearn_trees(self.estimator)
        if self.linear is not None:
            self.name, self.dtype = "numpy", np.float64
        else:
            self.session, self.dtype, self.output = self._export()

    def _numeric(self, part: Any, columns: list[str], position: dict[str, int]) -> None:
        """Median imputer + standard scaler, optionally followed by the template's Clip."""
        from sklearn.impute import SimpleImputer
        from sklearn.preprocessing import StandardScaler

        from mlops_template.core.transformers import Clip

        names = [type(step).__name__ for _, step in part.steps]
        if names == ["SimpleImputer", "StandardScaler", "Clip"]:
            imputer, scaler, clip = _single(part, (SimpleImputer, StandardScaler, Clip))
            self.clip = float(clip.limit)
        else:
            imputer, scaler = _single(part, (SimpleImputer, StandardScaler))
        if imputer.add_indicator or len(imputer.statistics_) != len(columns):
            raise Unsupported("numeric imputer drops or adds columns")
        self.num_idx = [position[c] for c in columns]
        self.medians = np.asarray(imputer.statistics_, dtype=float)
        self.mean = scaler.mean_ if scaler.with_mean else np.zeros(len(columns))
        self.scale = scaler.scale_ if scaler.with_std else np.ones(len(columns))

    def _linear(self) -> tuple[np.ndarray, np.ndarray] | None:
        return estimators.linear_weights(self.estimator)

    def _export(self) -> tuple[Any, type, str]:
        return estimators.export_onnx(self.estimator, self.width, self.task)

    def matrix(self, records: Records) -> np.ndarray:
        """The preprocessed feature matrix, as the ColumnTransformer would produce it."""
        rows = records.rows
        out = np.zeros((len(rows), self.width), dtype=float)
        if self.num_idx:
            x = records.floats(self.num_idx)  # None -> NaN
            x = np.where(np.isnan(x), self.medians, x)
            block = out[:, : len(self.num_idx)]
            np.divide(x - self.mean, self.scale, out=block)
            if self.clip is not None:
                np.clip(block, -self.clip, self.clip, out=block)
        for lookup, default, i in zip(self.lookups, self.defaults, self.cat_idx):
            for n, r in enumerate(rows):
                value = r[i]
                column = lookup.get(MISSING if value is None else value, default)
                if column is not None:  # unknown and no "other" column: all zeros ("ignore")
                    out[n, column] = 1.0
        return out

    def run(self, records: Records) -> Output:
        if self.linear is not None:
            proba, values = estimators.run_linear(self.matrix(records), *self.linear, self.task)
            return Output(proba, values)
        x = self.matrix(records)
        if self.float32_trees:  # sklearn's trees compare float32(x) with float64 thresholds
            x = x.astype(np.float32).astype(self.dtype)
        x = x.astype(self.dtype, copy=False)
        result = np.asarray(self.session.run([self.output], {"x": x})[0], dtype=float)
        if self.task == "classification":
            return Output(result, None)
        return Output(None, result.reshape(-1))


def probe_rows(features: list[Feature], reference: DriftReference, n: int = 64) -> list[list[Any]]:
    """Rows covering every reference bin, values far outside the training range (clipped),
    every category, an unknown one and missing values."""
    rng = np.random.default_rng(0)
    rows: list[list[Any]] = []
    for k in range(n):
        row: list[Any] = []
        for f in features:
            ref = reference.features.get(f.name)
            if f.nullable and k % 7 == 3:
                row.append(None)
            elif f.kind == "categorical":
                options = list(f.categories) + ["__probe_unknown__"]
                row.append(options[int(rng.integers(len(options)))])
            elif f.kind == "boolean":
                row.append(bool(k % 2))
            else:
                lo = f.minimum if f.minimum is not None else -1.0
                hi = f.maximum if f.maximum is not None else 1.0
                far = 10 * (hi - lo) + 1  # beyond any clip of the standardised value
                edges = ref.edges if isinstance(ref, NumericBins) else []
                points = [lo, hi, lo - far, hi + far, *edges]
                row.append(float(points[k % len(points)]) if k < 8 else float(rng.uniform(lo, hi)))
        rows.append(row)
    return rows


def agree(a: Output, b: Output, tolerance: float = 1e-5) -> bool:
    """Same predicted classes and probabilities (or values, relatively) within `tolerance`."""
    if a.proba is not None and b.proba is not None:
        same_class = bool(np.array_equal(a.proba.argmax(axis=1), b.proba.argmax(axis=1)))
        return same_class and bool(np.allclose(a.proba, b.proba, rtol=0, atol=tolerance))
    if a.values is not None and b.values is not None:
        return bool(np.allclose(a.values, b.values, rtol=tolerance, atol=tolerance))
    return False


def choose(
    pipeline: Any, features: list[Feature], task: str, reference: DriftReference, use_onnx: bool
) -> Backend:
    """The fast path when it reproduces the pipeline on probe rows; else the sklearn pipeline."""
    slow = SklearnBackend(pipeline, features, task)
    if not use_onnx:
        log.info("USE_ONNX is off: serving with the sklearn pipeline")
        return slow
    try:
        fast = FastPath(pipeline, features, task)
    except (Unsupported, KeyError, AttributeError, TypeError, ImportError) as exc:
        log.warning("fast path unavailable (%s); serving with the sklearn pipeline", exc)
        return slow
    rows = Records(probe_rows(features, reference))
    if not agree(fast.run(rows), slow.run(rows)):
        log.warning("fast path disagrees with the sklearn pipeline on probe rows; using sklearn")
        return slow
    if fast.name == "numpy":
        log.info("serving with numpy preprocessing + numpy linear model")
    else:
        log.info("serving with numpy preprocessing + ONNX (%s)", np.dtype(fast.dtype).name)
    return fast
