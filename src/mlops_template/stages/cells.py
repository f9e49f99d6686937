"""Cell values the preprocess stage settles before splitting, and a warning it gives.

* Infinite numbers in a feature (a ratio divided by zero) become missing values, imputed like
  any other: the scaling and the models can't use them, and serving refuses them anyway.
* Class labels lose their surrounding spaces ('yes ' is 'yes') and whole numbers their '.0';
  the load stage has refused classes that differ in case.
* A feature with no value in the training split is left out of the features.
* A feature that gives the label away — equal to it, or a value of it that always comes with
  the same class (or, for regression, a correlation of ±1) — is logged as a probable leak: the
  model will look perfect in testing and fail in production, where the column isn't known yet.

Only pandas and numpy here: the preprocess stage imports neither scikit-learn nor skops.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LEAK_ROWS = 10_000  # training rows looked at for a leak
LEAK_CORRELATION = 0.9999  # |correlation| with a numeric label at or above which it is a leak


def infinities_to_missing(frame: pd.DataFrame, target: str) -> dict[str, int]:
    """Replace ±inf in the number columns of `frame` (not the label) by NaN, in place;
    {column: how many}."""
    found: dict[str, int] = {}
    for name in frame.columns:
        column = frame[name]
        if name == target or not pd.api.types.is_float_dtype(column):
            continue
        infinite = np.isinf(column.to_numpy())
        if infinite.any():
            found[str(name)] = int(infinite.sum())
            frame[name] = column.mask(infinite)
    return found


def strip_labels(labels: pd.Series) -> pd.Series:
    """Class labels as text without surrounding spaces; whole numbers without a '.0' (a
    missing label makes pandas read 0/1 as 0.0/1.0, and clients send 0 and 1)."""
    if pd.api.types.is_float_dtype(labels):
        values = labels.to_numpy(dtype=float)
        exact = np.isfinite(values) & (np.abs(values) <= 2**53)  # floats hold these integers
        if np.all(exact) and np.all(np.mod(values, 1) == 0):
            labels = labels.astype("int64")
    return labels.astype(str).str.strip()


def empty_in(frame: pd.DataFrame, names: list[str], rows: np.ndarray) -> list[str]:
    """The columns of `names` with no value in the rows `rows` (the training split): nothing
    to learn from, and the imputer would drop them from the fitted pipeline."""
    return [name for name in names if not frame[name].iloc[rows].notna().any()]


def leaks(
    frame: pd.DataFrame, names: list[str], target: str, rows: np.ndarray, task: str
) -> list[str]:
    """Feature columns that give the label away on (a sample of) the training rows `rows`."""
    if len(rows) > LEAK_ROWS:
        rows = np.sort(np.random.default_rng(0).choice(rows, LEAK_ROWS, replace=False))
    labels = frame[target].iloc[rows]
    y_codes = pd.factorize(labels)[0].astype(np.int64)
    n_classes = int(y_codes.max()) + 1 if len(y_codes) else 0
    found = []
    for name in names:
        column = frame[name].iloc[rows]
        if task == "regression":
            if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
                x = column.to_numpy(dtype=float, na_value=np.nan)
                y = labels.to_numpy(dtype=float)
                ok = np.isfinite(x) & np.isfinite(y)
                if ok.sum() > 2 and np.std(x[ok]) > 0 and np.std(y[ok]) > 0:
                    if abs(np.corrcoef(x[ok], y[ok])[0, 1]) >= LEAK_CORRELATION:
                        found.append(name)
            continue
        codes = pd.factorize(column, use_na_sentinel=False)[0].astype(np.int64)
        n_values = int(codes.max()) + 1 if len(codes) else 0
        # a value per row says nothing (an ID); a value shared by rows that always has one
        # class, for every value, gives the class away
        if n_classes < 2 or n_values * 2 > len(codes):
            continue
        pairs = len(np.unique(codes * n_classes + y_codes))
        if pairs == n_values:
            found.append(name)
    return found
