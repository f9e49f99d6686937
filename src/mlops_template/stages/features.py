"""The feature preprocessing fitted with the model in the train stage (one sklearn pipeline).

Numbers are median-imputed, standardised and clipped to ± `preprocess.clip`; categories
one-hot encoded, the rare ones (fewer than `preprocess.min_frequency` training rows, or beyond
`preprocess.max_categories`) and unseen ones sharing one "other" column.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_template.core import schema
from mlops_template.core.config import PreprocessParams
from mlops_template.core.schema import Feature
from mlops_template.core.transformers import Clip


def build_preprocessor(
    features: list[Feature], params: PreprocessParams | None = None
) -> ColumnTransformer:
    """Impute, scale (and clip) numbers; impute and one-hot encode categories, rare and unseen
    ones in one "other" column."""
    p = params or PreprocessParams()
    numeric = [f.name for f in features if f.kind != "categorical"]
    categorical = [f.name for f in features if f.kind == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        steps: list[tuple[str, Any]] = [
            ("impute", SimpleImputer(strategy="median")),
            ("scale", StandardScaler(copy=False)),  # scales the imputer's fresh output in place
        ]
        if p.clip is not None:
            steps.append(("clip", Clip(limit=p.clip, copy=False)))
        transformers.append(("numeric", Pipeline(steps), numeric))
    if categorical:
        encode = OneHotEncoder(
            handle_unknown="infrequent_if_exist",
            sparse_output=False,
            max_categories=p.max_categories,
            min_frequency=p.min_frequency,
        )
        impute = SimpleImputer(strategy="constant", fill_value=schema.MISSING)
        transformers.append(
            ("categorical", Pipeline([("impute", impute), ("onehot", encode)]), categorical)
        )
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def kept_categories(preprocessor: ColumnTransformer, features: list[Feature]) -> list[Feature]:
    """`features` with each categorical one's categories cut to those the encoder keeps as
    their own column (the rest share "other"), so the card, the API schema and the drift
    metrics stay small whatever the cardinality."""
    kept: dict[str, tuple[str, ...]] = {}
    for name, part, cols in preprocessor.transformers_:
        if name != "categorical":
            continue
        encoder = part.named_steps["onehot"]
        infrequent = encoder.infrequent_categories_
        for col, cats, rare in zip(cols, encoder.categories_, infrequent):
            rare_set = set() if rare is None else {str(c) for c in rare}
            kept[col] = tuple(
                str(c) for c in cats if str(c) not in rare_set and str(c) != schema.MISSING
            )
    return [
        dataclasses.replace(f, categories=kept[f.name]) if f.name in kept else f for f in features
    ]
