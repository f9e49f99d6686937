"""Reference rows vs recent rows, beyond binned PSI: per-feature two-sample tests for numeric
features and one multivariate drift score (scipy and scikit-learn do the statistics).

* Kolmogorov–Smirnov (`scipy.stats.ks_2samp`): the largest gap between the two empirical CDFs
  and its p-value; with thousands of rows even a harmless shift gets a tiny p-value, so read
  the statistic too.
* Wasserstein distance (`scipy.stats.wasserstein_distance`), divided by the reference's
  standard deviation so features on different scales compare: "how far the values moved,
  in reference standard deviations".
* Classifier drift score: a model learns to tell reference rows (label 0) from recent rows
  (label 1); its ROC AUC on held-out rows (cross-validated predictions) is about 0.5 when the
  two are indistinguishable and approaches 1 when the joint distribution moved — including
  shifts no single feature shows (a changed correlation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OrdinalEncoder

from mlops_template.core.schema import Feature

MAX_ROWS = 5000  # per side, for the classifier (a sample keeps the report fast)
AUC_THRESHOLD = 0.7  # --auc-threshold default: above it the multivariate check says drift


@dataclass(frozen=True)
class NumericTest:
    name: str
    ks: float
    ks_pvalue: float
    wasserstein: float  # in reference standard deviations


@dataclass(frozen=True)
class ClassifierScore:
    auc: float
    rows: int  # reference + recent rows used
    threshold: float

    @property
    def drifted(self) -> bool:
        return self.auc > self.threshold


def numeric_tests(
    reference: pd.DataFrame, recent: pd.DataFrame, features: list[Feature]
) -> list[NumericTest]:
    """KS and scaled Wasserstein distance for every numeric feature with values on both sides."""
    out = []
    for feature in features:
        if feature.kind != "numeric":
            continue
        a = pd.to_numeric(reference[feature.name], errors="coerce").dropna().to_numpy(float)
        b = pd.to_numeric(recent[feature.name], errors="coerce").dropna().to_numpy(float)
        if len(a) < 2 or len(b) < 2:
            continue
        ks = stats.ks_2samp(a, b)
        scale = float(np.std(a)) or 1.0
        out.append(
            NumericTest(
                name=feature.name,
                ks=round(float(ks.statistic), 6),
                ks_pvalue=float(ks.pvalue),
                wasserstein=round(float(stats.wasserstein_distance(a, b)) / scale, 6),
            )
        )
    out.sort(key=lambda t: (-t.ks, t.name))
    return out


def classifier_score(
    reference: pd.DataFrame,
    recent: pd.DataFrame,
    features: list[Feature],
    threshold: float = AUC_THRESHOLD,
    seed: int = 0,
) -> ClassifierScore | None:
    """ROC AUC of a classifier telling reference from recent rows on held-out folds; None when
    either side has fewer than 20 rows."""
    if min(len(reference), len(recent)) < 20:
        return None
    names = [f.name for f in features]
    a = reference[names].sample(min(len(reference), MAX_ROWS), random_state=seed)
    b = recent[names].sample(min(len(recent), MAX_ROWS), random_state=seed)
    x = pd.concat([a, b], ignore_index=True)
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    categorical = [f.name for f in features if f.kind != "numeric"]
    for name in categorical:
        x[name] = x[name].astype("string").fillna("__missing__")
    for name in names:
        if name not in categorical:
            x[name] = pd.to_numeric(x[name], errors="coerce")
    encode = ColumnTransformer(
        [
            (
                "categories",
                OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                categorical,
            )
        ],
        remainder="passthrough",
        verbose_feature_names_out=False,
    )
    model = make_pipeline(
        encode,
        HistGradientBoostingClassifier(
            max_iter=50,
            learning_rate=0.1,
            categorical_features=list(range(len(categorical))) or None,
            random_state=seed,
        ),
    )
    folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, x, y, cv=folds, method="predict_proba")[:, 1]
    return ClassifierScore(round(float(roc_auc_score(y, proba)), 4), len(x), threshold)


def markdown(tests: list[NumericTest], score: ClassifierScore | None, limit: int = 15) -> str:
    """The two-sample section of the drift report (feature names escaped)."""
    from mlops_template.core.markdown import escape

    lines = []
    if score is not None:
        verdict = "DRIFT" if score.drifted else "ok"
        lines += [
            f"**Multivariate drift** (classifier reference vs recent, ROC AUC on held-out rows; "
            f"0.5 = indistinguishable): {score.auc:.3f} over {score.rows} rows "
            f"(threshold {score.threshold:g}): {verdict}",
            "",
        ]
    if tests:
        lines += [
            "| feature | KS | KS p-value | Wasserstein (ref. σ) |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| {escape(t.name)} | {t.ks:.4f} | {t.ks_pvalue:.3g} | {t.wasserstein:.4f} |"
            for t in tests[:limit]
        ]
        if len(tests) > limit:
            lines.append(f"| … {len(tests) - limit} more | | | |")
        lines.append("")
    return "\n".join(lines)


def text(tests: list[NumericTest], score: ClassifierScore | None) -> str:
    lines = [f"{'feature':<28} {'KS':>8} {'KS p':>10} {'W (σ)':>8}"]
    lines += [
        f"{t.name:<28} {t.ks:>8.4f} {t.ks_pvalue:>10.3g} {t.wasserstein:>8.4f}" for t in tests
    ]
    if score is not None:
        verdict = "DRIFT" if score.drifted else "ok"
        lines.append(
            f"multivariate (classifier ROC AUC, 0.5 = no drift): {score.auc:.3f}: {verdict}"
        )
    return "\n".join(lines) + "\n"
