"""The template's own preprocessing steps (saved inside models, so the API imports this module).

`Clip` bounds standardised numbers to ± `limit` standard deviations. A handful of outlier
rows (a zero or a hundredfold value among ordinary ones) otherwise reach |z| ≈ 50, and one
SGD step on such a row multiplies the error instead of reducing it: the linear model
diverges. Clipping keeps every row's weight in the step bounded; `api.inference.FastPath`
applies the same bound.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class Clip(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Clip every value to [-limit, limit]; NaN stays NaN. `copy=False` clips in place (the
    preprocessor passes it the scaler's fresh output)."""

    def __init__(self, limit: float = 5.0, copy: bool = True) -> None:
        self.limit = limit
        self.copy = copy

    def fit(self, x: Any, y: Any = None) -> Clip:
        validate_data(self, x, reset=True, ensure_all_finite="allow-nan", dtype=np.float64)
        return self

    def transform(self, x: Any) -> np.ndarray:
        check_is_fitted(self, "n_features_in_")
        values = validate_data(
            self, x, reset=False, ensure_all_finite="allow-nan", dtype=np.float64, copy=self.copy
        )
        out: np.ndarray = np.clip(values, -self.limit, self.limit, out=values)
        return out
