"""The pipeline on each bundled data set and each test table shape: rows in, rows used, the
headline test metric and the baseline that ignores the features (majority class / mean).

    python bench/datasets.py [--root DIR] [--only NAME ...] [--model FAMILY]

Each data set runs the four stages with the default params (only `data.source`,
`data.target` and, for regression, `gate.metric: r2` set), as a new user would. `--root`
runs another checkout's code and params.yaml instead (e.g. an older commit unpacked with
`git archive`), to compare before and after; `--model` sets `train.model` for every table. A
stage that fails shows its one-line error.
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))  # tests.data.shapes: the generated tables

from mlops_template.core import metrics  # noqa: E402
from tests.data import shapes  # noqa: E402

STAGES = ("load", "preprocess", "train", "evaluate")
BUNDLED = {"breast_cancer": "diagnosis", "wine": "cultivar", "diabetes": "progression"}
# (table, extra params, what it shows)
CASES: list[tuple[str, dict[str, dict[str, Any]], str]] = [
    ("breast_cancer", {}, "bundled, the default"),
    ("wine", {}, "bundled, 3 classes"),
    ("diabetes", {}, "bundled, regression"),
    ("duplicates", {}, "1,316 rows, 20 distinct"),
    ("duplicates", {"preprocess": {"dedupe": True}}, "… with preprocess.dedupe: true"),
    ("skewed", {}, "skewed price, 20 outlier rows"),
    ("skewed", {"preprocess": {"clip": None}}, "… with preprocess.clip: null"),
    ("ids", {}, "text and integer ID columns"),
    ("high_cardinality", {}, "2,000-value categorical + an ID"),
    ("dates", {}, "ISO timestamps"),
    ("dates", {"preprocess": {"split": "time", "split_column": "ordered_at"}}, "… time split"),
    ("noise", {}, "labels independent of the features"),
]


def source(name: str, folder: Path) -> tuple[str, str]:
    if name in BUNDLED:
        return name, BUNDLED[name]
    path, target = shapes.write(name, folder)
    return str(path), target


def run(
    root: Path, name: str, extra: dict[str, dict[str, Any]], work: Path, model: str | None
) -> dict[str, Any]:
    src, target = source(name, work.parent / "tables")
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["data"].update(source=src, target=target)
    if model is not None:
        params["train"]["model"] = model
    for section, values in extra.items():
        if section in params:
            params[section].update(values)
    work.mkdir(parents=True)
    (work / "params.yaml").write_text(yaml.safe_dump(params))
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    for stage in STAGES:
        done = subprocess.run(
            [sys.executable, "-m", f"mlops_template.stages.{stage}"],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines() or ["(no message)"]
            return {"failed": stage, "error": lines[-1]}
    raw = len(pd.read_parquet(work / "data" / "raw" / "dataset.parquet"))
    split = {
        s: pd.read_parquet(work / "data" / "processed" / f"{s}.parquet")
        for s in ("train", "val", "test")
    }
    scores = json.loads((work / "reports" / "metrics.json").read_text())
    task = "classification" if "accuracy" in scores else "regression"
    headline = "f1" if task == "classification" else "r2"
    y_train, y_test = split["train"][target], split["test"][target]
    if task == "classification":
        y_train, y_test = y_train.astype(str).to_numpy(), y_test.astype(str).to_numpy()
        classes = np.unique(np.concatenate([y_train, y_test]))
    else:
        y_train, y_test = y_train.to_numpy(float), y_test.to_numpy(float)
        classes = np.array([])
    base = metrics.baseline(y_train, y_test, classes, task)
    return {
        "rows_in": raw,
        "rows_used": sum(len(f) for f in split.values()),
        "metric": headline,
        "value": scores[headline],
        "baseline": base[f"baseline_{headline}"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE, help="checkout whose code to run")
    parser.add_argument("--only", nargs="*", help="table names to run")
    parser.add_argument("--model", help="train.model for every table (default: params.yaml's)")
    args = parser.parse_args()
    print("| table | what | rows in → used | headline (test) | baseline | result |")
    print("|---|---|---:|---:|---:|---|")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (name, extra, what) in enumerate(CASES):
            if args.only and name not in args.only:
                continue
            r = run(args.root.resolve(), name, extra, Path(tmp) / f"{i}-{name}", args.model)
            if "failed" in r:
                error = r["error"].replace("|", "\\|")
                print(
                    f"| {name} | {what} | – | – | – | {r['failed']} fails: `{error}` |", flush=True
                )
                continue
            gain = r["value"] - r["baseline"]
            verdict = (
                "better than the baseline" if gain >= 0.05 else "**no better than the baseline**"
            )
            print(
                f"| {name} | {what} | {r['rows_in']:,} → {r['rows_used']:,} | "
                f"{r['metric']} {r['value']:.3f} | {r['baseline']:.3f} | {verdict} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
