"""Pieces of the fitted sklearn pipeline that the fast path reproduces in numpy."""

from __future__ import annotations

from typing import Any

import numpy as np


class Unsupported(ValueError):
    """The pipeline has a part the fast path does not reproduce."""


def one_hot_columns(
    categories: Any, infrequent: Any, width: int
) -> tuple[dict[str, int], int, int | None]:
    """(category → output column, new width, the "other" column or None) of one feature:
    OneHotEncoder keeps the frequent categories' columns in order and puts every infrequent
    category in one last column (checked against the sklearn pipeline on probe rows)."""
    rare = set() if infrequent is None else {str(c) for c in infrequent}
    lookup: dict[str, int] = {}
    for c in categories:
        if str(c) not in rare:
            lookup[str(c)] = width
            width += 1
    other: int | None = None
    if rare:
        other, width = width, width + 1
        lookup.update({c: other for c in rare})
    return lookup, width, other


def sklearn_trees(estimator: Any) -> bool:
    """A tree or an ensemble of sklearn trees: they predict on float32 copies of the input."""
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree):
        return True
    trees = getattr(estimator, "estimators_", None)
    return trees is not None and all(isinstance(t, BaseDecisionTree) for t in np.ravel(trees))
