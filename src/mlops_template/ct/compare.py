"""The retrained model against the one in production, on the same test split.

The production model is the version GTO has assigned to `prod` (`gto show model#prod --ref`).
Its bundle is fetched with `dvc get` at that tag and scored on the test split the retrained
model was just evaluated on, so both numbers come from the same rows. If the bundle can't be
fetched or no longer fits the data (a feature was added or renamed), the metrics committed
at that tag are used instead, and the description says so.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_template.core import bundle, card, metrics, paths
from mlops_template.core.errors import ModelLoadError, StageError
from mlops_template.core.predict import predict_frame, truth
from mlops_template.ct import commands
from mlops_template.review import gate

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Comparison:
    new: dict[str, float]
    prod: dict[str, float] = field(default_factory=dict)
    prod_ref: str | None = None
    method: str = "no model in production yet"
    prod_dir: Path | None = None  # the fetched production bundle, when there is one


def fetch_bundle(ref: str, target: Path) -> Path:
    """The model bundle (model.skops + model_card.json) at git `ref`, via `dvc get`."""
    target.mkdir(parents=True, exist_ok=True)
    for path in (paths.MODEL, paths.MODEL_CARD):
        out = target / path.name
        out.unlink(missing_ok=True)
        commands.run(
            ["dvc", "get", ".", path.as_posix(), "--rev", ref, "-o", str(out)],
            timeout=commands.remote_timeout(),
        )
    return target


def score_bundle(model_dir: Path, test: pd.DataFrame) -> dict[str, float]:
    """Test metrics of the bundle in `model_dir` on `test`, computed as the evaluate stage does."""
    model_card = card.read(model_dir)
    model = bundle.load_model(model_dir, model_card)
    features = model_card.features
    task, target = model_card.task, model_card.target
    if target not in test:
        raise StageError(f"the test split has no column '{target}' (the production model's target)")
    pred, proba = predict_frame(model, test, features, task)
    classes = np.asarray(model_card.classes, dtype=object)
    scores = metrics.score(truth(test, target, task), pred, proba, classes)
    return {k: round(float(v), 6) for k, v in scores.items()}


def against_prod(model: str, stage: str, workdir: Path) -> Comparison:
    """Compare reports/metrics.json (the retrained model) with the `stage` version of `model`."""
    new: dict[str, float] = json.loads(paths.METRICS.read_text())
    ref = commands.prod_ref(model, stage)
    if ref is None:
        log.info("no %s#%s in the registry: nothing to compare with", model, stage)
        return Comparison(new=new)
    try:
        prod_dir = fetch_bundle(ref, workdir / "prod-model")
        prod = score_bundle(prod_dir, pd.read_parquet(paths.TEST))
        return Comparison(new, prod, ref, "both scored on this branch's test split", prod_dir)
    except (commands.CommandError, StageError, ModelLoadError, OSError) as exc:
        log.warning(
            "can't score %s on the new test split (%s); using its committed metrics", ref, exc
        )
    committed = gate.baseline_from_ref(ref)
    if committed is None:
        return Comparison(new, {}, ref, f"no metrics found at {ref}")
    return Comparison(new, committed, ref, f"metrics committed at {ref}")
