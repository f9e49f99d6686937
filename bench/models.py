"""Benchmark: the model families on the bundled data sets and on two generated tables with
categorical and missing values, the default `linear` against `gradient_boosting` and a tuned
model (`make tune` over both families, then `--apply` and the pipeline).

    python bench/models.py [--trials 30] [--sets breast_cancer wine diabetes shop_churn flat_prices]

For each data set and model: the headline test metric (gate.metric: F1 for classification,
R² for regression), its difference to the default linear model's, and the train stage's time
(the tuned row adds the search's time). Each run is the real stages in a temp folder; the
machine is shared, so compare times within one run.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]


def shop_churn(rows: int = 3000, seed: int = 11) -> pd.DataFrame:
    """Classification: numbers with gaps, three categoricals with gaps, interactions."""
    rng = np.random.default_rng(seed)
    tenure = rng.gamma(2.0, 12.0, rows)
    spend = rng.normal(60, 20, rows)
    plan = rng.choice(["basic", "plus", "pro"], rows, p=[0.5, 0.3, 0.2]).astype(object)
    region = rng.choice([f"r{i}" for i in range(8)], rows).astype(object)
    calls = rng.poisson(2.0, rows).astype(float)
    score = (
        -0.06 * tenure
        + 0.5 * (calls > 3)
        + np.where(plan == "basic", 0.8, 0.0) * (spend > 70)
        + np.where(np.isin(region, ["r1", "r5"]), 0.9, -0.2)
        + 0.02 * (spend - 60)
    )
    label = np.where(score + rng.logistic(0, 0.5, rows) > 0, "churned", "stayed")
    for column in (tenure, spend, calls):
        column[rng.random(rows) < 0.1] = np.nan
    plan[rng.random(rows) < 0.05] = None
    region[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {"tenure": tenure, "spend": spend, "plan": plan, "region": region, "calls": calls}
    ).assign(churn=label)


def flat_prices(rows: int = 3000, seed: int = 12) -> pd.DataFrame:
    """Regression: area and year with gaps, district and condition categoricals with gaps."""
    rng = np.random.default_rng(seed)
    area = rng.lognormal(4.2, 0.35, rows)
    year = rng.integers(1900, 2024, rows).astype(float)
    district = rng.choice([f"d{i:02d}" for i in range(12)], rows).astype(object)
    condition = rng.choice(["new", "good", "worn"], rows).astype(object)
    level = {f"d{i:02d}": 1.0 + 0.15 * (i % 5) for i in range(12)}
    factor = np.array([level[d] for d in district]) * np.where(condition == "worn", 0.8, 1.0)
    price = 2500 * area * factor * (1 + 0.2 * (year > 1990)) + rng.normal(0, 20000, rows)
    area[rng.random(rows) < 0.08] = np.nan
    year[rng.random(rows) < 0.08] = np.nan
    district[rng.random(rows) < 0.05] = None
    condition[rng.random(rows) < 0.05] = None
    return pd.DataFrame(
        {"area": area, "year": year, "district": district, "condition": condition, "price": price}
    )


SETS: dict[str, dict[str, Any]] = {
    "breast_cancer": {"source": "breast_cancer", "target": "diagnosis"},
    "wine": {"source": "wine", "target": "cultivar"},
    "diabetes": {"source": "diabetes", "target": "progression"},
    "shop_churn": {"make": shop_churn, "target": "churn"},
    "flat_prices": {"make": flat_prices, "target": "price"},
}


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def timed(step: Callable[[], Any]) -> float:
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def run(name: str, folder: Path, train: dict[str, Any], trials: int) -> dict[str, Any]:
    """One pipeline run in `folder`; with `trials`, `make tune` over linear and gradient
    boosting first and its winner applied. Returns the metric, its value, the seconds the
    search and the train stage took, and the model family trained."""
    from mlops_template.stages import evaluate, load, preprocess
    from mlops_template.stages import train as training
    from mlops_template.tuning import apply, search

    spec = SETS[name]
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    source = spec.get("source")
    if "make" in spec:
        source = str(folder / f"{name}.csv")
        spec["make"]().to_csv(source, index=False)
    params["data"].update(source=source, target=spec["target"])
    params["gate"]["metric"] = "r2" if name in ("diabetes", "flat_prices") else "f1"
    params["train"].update(train)
    params["tune"]["models"] = ["linear", "gradient_boosting"]
    (folder / "params.yaml").write_text(yaml.safe_dump(params))
    with inside(folder):
        load.main()
        preprocess.main()
        seconds = 0.0
        if trials:
            seconds += timed(lambda: search.main(["--trials", str(trials)]))
            apply.main([])
        seconds += timed(training.main)
        evaluate.main()
        scores = yaml.safe_load(Path("reports/metrics.json").read_text())
        chosen = yaml.safe_load(Path("params.yaml").read_text())["train"]["model"]
        if trials:
            decision = yaml.safe_load(Path("reports/tune.json").read_text())["decision"]
            kept = decision["choice"] == "params.yaml"
            chosen = "params.yaml kept" if kept else f"trial {decision['trial']}: {chosen}"
    metric = params["gate"]["metric"]
    return {"metric": metric, "value": scores[metric], "seconds": seconds, "model": chosen}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=30, help="trials of the tuned model")
    parser.add_argument("--sets", nargs="+", default=list(SETS), choices=list(SETS))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    rows = [
        "| data set | model | metric (test) | vs default linear | time (s): train (+ search) |",
        "|---|---|---:|---:|---:|",
    ]
    variants = [
        ("linear (default)", {}, 0),
        ("gradient_boosting", {"model": "gradient_boosting"}, 0),
        ("tuned", {}, args.trials),
    ]
    for name in args.sets:
        base = None
        for label, train, trials in variants:
            folder = Path(tempfile.mkdtemp(prefix=f"bench-models-{name}-"))
            try:
                result = run(name, folder, train, trials)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            base = result["value"] if base is None else base
            shown = f"tuned, {trials} trials ({result['model']})" if trials else label
            rows.append(
                f"| {name} | {shown} | {result['metric']} {result['value']:.4f} "
                f"| {result['value'] - base:+.4f} | {result['seconds']:.1f} |"
            )
            print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
