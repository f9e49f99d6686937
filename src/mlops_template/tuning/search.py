"""The search: Optuna trials of the train stage's own `fit` on the train/validation split.

    python -m mlops_template.tuning.search [--trials N] [--minutes M] [--seed S]
        [--shard I/N] [--out reports/tune.json] [--apply]

Each trial trains with the params Optuna suggests (`tuning.space`) and scores the headline
metric (`gate.metric`) on the validation split; the test split is never read. The pruner
compares the validation loss epoch by epoch with the earlier trials' and stops the hopeless
ones. params.yaml's own values are scored first, outside the budget, so the leaderboard shows
whether the search beat them. The sampler is seeded: run sequentially, the same seed gives
the same trials, params and scores (only the timings differ). `--shard I/N` runs sub-study I
of N with seed + I - 1 and its share of the trials (the CI jobs); `tuning.merge` joins them.
"""

from __future__ import annotations

import argparse
import logging
import math
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from mlops_template.core import config
from mlops_template.core.cli import run
from mlops_template.core.config import LOWER_IS_BETTER, Params
from mlops_template.core.errors import StageError
from mlops_template.stages import models
from mlops_template.stages import train as training
from mlops_template.tuning import board, space
from mlops_template.tuning.trial import OUTPUTS, Data, Outputs, Record, attempt, train_values

log = logging.getLogger(__name__)


def study(
    params: Params, data: Data, trials: int, minutes: float | None, seed: int, shard: int
) -> tuple[list[Record], Outputs | None]:
    """`trials` Optuna trials (fewer if `minutes` run out first), in the order they ran, and
    the per-row validation outputs of the best of them."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    metric, families = params.gate.metric, params.tune.models or (params.train.model,)
    direction: Literal["minimize", "maximize"] = (
        "minimize" if metric in LOWER_IS_BETTER else "maximize"
    )
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(3, min(10, trials // 3)))
    pruner: optuna.pruners.BasePruner = optuna.pruners.NopPruner()
    if params.tune.pruning:
        warmup = max(1, params.train.epochs // 4)
        pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=warmup)
    search = optuna.create_study(direction=direction, sampler=sampler, pruner=pruner)
    records: list[Record] = []
    best: list[Any] = [None, None]  # the best record so far and its outputs (only those kept)
    started = time.perf_counter()

    def objective(trial: optuna.Trial) -> float:
        begin = time.perf_counter()
        p = space.suggest(trial, params.train, families)
        record: Record = {"shard": shard, "number": trial.number + 1}
        try:
            record |= attempt(p, data, metric, trial)
        except optuna.TrialPruned as exc:
            record |= {"params": train_values(p), "state": "pruned", "value": None}
            record |= {"epochs": trial.user_attrs.get("epochs", 0), "note": str(exc)}
            record["seconds"] = round(time.perf_counter() - begin, 2)
            raise
        finally:
            outputs = record.pop(OUTPUTS, None)
            if "params" in record:  # not an unexpected error (that one propagates as it is)
                if (
                    record["value"] is not None
                    and board.best([r for r in (best[0], record) if r], metric) is record
                ):
                    best[:] = [record, outputs]
                records.append(record)
                progress(record, records, trials, started, metric)
        return float("nan") if record["value"] is None else float(record["value"])

    search.optimize(
        objective, n_trials=trials, timeout=None if minutes is None else minutes * 60, catch=()
    )
    if best[0] is None:
        return records, None
    return records, {**best[1], "trial": [shard, best[0]["number"]]}


def progress(
    record: Record, records: list[Record], total: int, started: float, metric: str
) -> None:
    """One line per trial: number, score, best so far, elapsed, params."""
    done = [r for r in records if r["value"] is not None]
    best = board.best(done, metric) if done else None
    value = f"{metric}={record['value']:.4f}" if record["value"] is not None else record["state"]
    best_text = f"best={best['value']:.4f} (#{best['number']})" if best else "best=–"
    note = f" [{record['note']}]" if record.get("note") else ""
    log.info(
        "tune: trial %d/%d  %s  %s  %.1f s  %s %s%s",
        record["number"],
        total,
        value,
        best_text,
        time.perf_counter() - started,
        record["params"]["model"],
        board.params_text(record["params"]),
        note,
    )


def search(
    params: Params, trials: int, minutes: float | None, seed: int, shard: int = 1, shards: int = 1
) -> Record:
    """Score params.yaml's values (first shard only), run the study, return the leaderboard."""
    data = Data.load(params)
    metric = params.gate.metric
    for quiet in (training.log, models.log):  # one line per trial, not per epoch
        quiet.setLevel(logging.WARNING)
    started = time.perf_counter()
    baseline, outputs = None, {}
    if shard == 1:
        with models.threads(len(data.train.y)):
            baseline = {"shard": shard, "number": 0, **attempt(params.train, data, metric)}
        baseline["note"] = "params.yaml"
        outputs["baseline"] = baseline.pop(OUTPUTS, None)
        log.info(
            "tune: params.yaml  %s=%s  %s",
            metric,
            baseline["value"],
            board.params_text(baseline["params"]),
        )
    with models.threads(len(data.train.y)):
        records, outputs["best"] = study(params, data, trials, minutes, seed, shard)
    return board.leaderboard(
        metric=metric,
        seed=seed,
        families=list(params.tune.models or (params.train.model,)),
        shards=[{"shard": shard, "of": shards, "seed": seed, "trials": len(records)}],
        baseline=baseline,
        trials=records,
        seconds=round(time.perf_counter() - started, 1),
        outputs=outputs,
        noise=params.gate,
    )


def shard_arg(text: str) -> tuple[int, int]:
    try:
        index, total = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: expected I/N, e.g. 2/3") from None
    if not 1 <= index <= total:
        raise argparse.ArgumentTypeError(f"--shard {text!r}: I must be between 1 and N")
    return index, total


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, help="default: tune.trials (split over shards)")
    parser.add_argument("--minutes", type=float, help="default: tune.minutes")
    parser.add_argument("--seed", type=int, help="default: tune.seed")
    parser.add_argument("--shard", type=shard_arg, default=(1, 1), help="sub-study I of N")
    parser.add_argument("--out", type=Path, default=board.JSON)
    parser.add_argument(
        "--apply", action="store_true", help="write the chosen params into params.yaml"
    )
    args = parser.parse_args(argv)
    params = config.load()
    index, total = args.shard
    trials = args.trials if args.trials is not None else math.ceil(params.tune.trials / total)
    if trials < 1:
        raise StageError(f"tune: --trials must be at least 1, not {trials}")
    minutes = args.minutes if args.minutes is not None else params.tune.minutes
    seed = (args.seed if args.seed is not None else params.tune.seed) + index - 1
    result = search(params, trials, minutes, seed, index, total)
    board.write(result, args.out)
    if args.apply:
        from mlops_template.tuning import apply

        apply.apply(result)


if __name__ == "__main__":
    run(main)
