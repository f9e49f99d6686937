"""Benchmark: the whole pipeline vs. a bare fit of the same estimator on the same arrays.

    python bench/pipeline.py [--rows 100000 1000000] [--model linear] [--epochs 20]

For each size, writes a synthetic table (30 numeric features, binary label) to a temp dir,
then in the same run measures
  * the pipeline: the four stages, each a fresh `python -m` process as `dvc repro` runs them;
  * the bare fit: one process that loads the same arrays and fits the same estimator for the
    same epochs on as many rows as the pipeline's training split, with no validation, logging,
    evaluation or saving (`--bare-rows all`: on every row, as this bench did before: at 1M rows
    that made the reference 1.5x slower than the pipeline's own fit);
and prints wall time and peak RSS of each, their ratios, and the data's in-memory size.
Ratios measured in one run are what to compare: this machine is shared and noisy
(`--repeat 3` alternates three runs of each and keeps the fastest).

`--before DIR` measures another version of the code in the same run, alternating with this one:
DIR is a copy of it (`git archive main | tar -x -C DIR`), whose `src/` goes first on PYTHONPATH
and whose params.yaml is used; its bare fit builds the estimator with its own code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "preprocess", "train", "evaluate")
FEATURES = 30

BARE_FIT = """
import sys, numpy as np, pandas as pd
from sklearn.preprocessing import StandardScaler
from mlops_template.stages import models
from mlops_template.core.config import TrainParams
frame = pd.read_parquet(sys.argv[1])
frame = frame.iloc[: int(sys.argv[4])] if sys.argv[4] != "all" else frame
y = frame.pop("label").astype(str).to_numpy().astype(str)  # the labels train uses
x = StandardScaler().fit_transform(frame.to_numpy(dtype=np.float64))
p = TrainParams(model=sys.argv[2], epochs=int(sys.argv[3]))
model = models.build("classification", p)
classes = np.unique(y)
for epoch in range(1, p.epochs + 1):
    models.fit_epoch(model, x, y, epoch, p, classes)
"""


def synthetic(rows: int, seed: int = 0) -> Any:
    """The table: FEATURES standard-normal numbers and a noisy linear binary label."""
    import numpy as np  # here, not at the top: this process must stay small (see bench())
    import pandas as pd

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(rows, FEATURES))
    weights = rng.normal(size=FEATURES)
    logits = x @ weights + rng.normal(scale=2.0, size=rows)
    frame = pd.DataFrame(x, columns=[f"f{i:02d}" for i in range(FEATURES)])
    frame["label"] = np.where(logits > 0, "yes", "no")
    return frame


def run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(
            f"{' '.join(cmd)} failed: {proc.stderr.read().decode() if proc.stderr else ''}"
        )
    return wall, usage.ru_maxrss / 1024


def arm(
    name: str, work: Path, data: Path, model: str, epochs: int, env: dict[str, str], fit: str
) -> tuple[float, float, float, float]:
    """One run of the pipeline and one bare fit: (pipeline s, pipeline MB, bare s, bare MB)."""
    pipe_wall, pipe_rss = 0.0, 0.0
    stages = []
    for stage in STAGES:
        wall, rss = run([sys.executable, "-m", f"mlops_template.stages.{stage}"], work, env)
        pipe_wall += wall
        pipe_rss = max(pipe_rss, rss)
        stages.append(f"{stage} {wall:.1f}s/{rss:.0f}MB")
    bare = [sys.executable, "-c", BARE_FIT, str(data), model, str(epochs), fit]
    bare_wall, bare_rss = run(bare, work, env)
    print(
        f"<!-- {name}: {', '.join(stages)}; bare fit {bare_wall:.1f}s/{bare_rss:.0f}MB -->",
        flush=True,
    )
    return pipe_wall, pipe_rss, bare_wall, bare_rss


def bench(
    rows: int, model: str, epochs: int, repeat: int, before: Path | None, bare_rows: str
) -> dict[str, dict[str, float]]:
    """Pipeline and bare fit (of this code and, with `before`, of that one), alternating
    `repeat` times; the fastest run of each (the least disturbed by the other work on a shared
    machine) and the peak RSS over all runs."""
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data.parquet"
        # Written by a child process: a child's peak RSS counts its parent's at the fork, so
        # this process must never hold the table.
        write = "import sys; from bench.pipeline import synthetic; "
        write += "synthetic(int(sys.argv[1])).to_parquet(sys.argv[2], index=False)"
        subprocess.run([sys.executable, "-c", write, str(rows), str(data)], cwd=ROOT, check=True)
        arms = {"after": (ROOT, dict(os.environ))}
        if before is not None:
            env = {**os.environ, "PYTHONPATH": str(before / "src")}
            arms = {"before": (before, env), **arms}
        results, fits = {}, {}
        for name, (code, _) in arms.items():
            work = Path(tmp) / name
            work.mkdir()
            params = yaml.safe_load((code / "params.yaml").read_text())
            params["data"].update(source=str(data), target="label", task="classification")
            params["train"].update(model=model, epochs=epochs)
            (work / "params.yaml").write_text(yaml.safe_dump(params))
            kept = (1 - params["preprocess"]["test_size"]) * (1 - params["preprocess"]["val_size"])
            fits[name] = "all" if bare_rows == "all" else str(int(rows * kept))
            results[name] = {
                "rows": rows,
                "data_mb": rows * FEATURES * 8 / 2**20,  # the feature matrix in float64
                "pipeline_s": float("inf"),
                "bare_s": float("inf"),
                "pipeline_mb": 0.0,
                "bare_mb": 0.0,
            }
        for _ in range(repeat):
            for name, (_, env) in arms.items():
                label = f"{rows:,} rows, {name}"
                pipe_s, pipe_mb, bare_s, bare_mb = arm(
                    label, Path(tmp) / name, data, model, epochs, env, fits[name]
                )
                r = results[name]
                r["pipeline_s"] = min(r["pipeline_s"], pipe_s)
                r["bare_s"] = min(r["bare_s"], bare_s)
                r["pipeline_mb"] = max(r["pipeline_mb"], pipe_mb)
                r["bare_mb"] = max(r["bare_mb"], bare_mb)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--model", default="linear")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    parser.add_argument("--before", type=Path, help="a copy of another version of the code")
    parser.add_argument(
        "--bare-rows",
        choices=("train", "all"),
        default="train",
        help="rows of the bare fit: the training split's count (default) or every row",
    )
    args = parser.parse_args()
    print(
        f"model={args.model} epochs={args.epochs} features={FEATURES} repeat={args.repeat} "
        f"bare-rows={args.bare_rows}\n"
    )
    print(
        "| rows | code | data (MB) | pipeline (s) | bare fit (s) | time ratio "
        "| pipeline peak RSS (MB) | bare fit peak RSS (MB) | peak RSS / data |"
    )
    print("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for rows in args.rows:
        results = bench(rows, args.model, args.epochs, args.repeat, args.before, args.bare_rows)
        for name, r in results.items():
            print(
                f"| {rows:,} | {name} | {r['data_mb']:.0f} | {r['pipeline_s']:.1f} "
                f"| {r['bare_s']:.1f} | {r['pipeline_s'] / r['bare_s']:.2f}× "
                f"| {r['pipeline_mb']:.0f} | {r['bare_mb']:.0f} "
                f"| {r['pipeline_mb'] / r['data_mb']:.1f}× |",
                flush=True,
            )


if __name__ == "__main__":
    main()
