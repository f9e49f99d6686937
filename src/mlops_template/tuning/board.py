"""The leaderboard of a search: every trial recorded (reports/tune.json), ranked, and as
Markdown (reports/tune.md) for the terminal and the merge-request comment."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops_template.core import io
from mlops_template.core.config import LOWER_IS_BETTER, GateParams
from mlops_template.review import bootstrap

JSON = Path("reports/tune.json")
TOP = 15  # rows of the Markdown table

Record = dict[str, Any]


def trial_id(record: Record, shards: int) -> str:
    if record.get("number") == 0:
        return "params.yaml"
    return f"{record['shard']}-{record['number']}" if shards > 1 else str(record["number"])


def ranked(records: list[Record], metric: str) -> list[Record]:
    """Scored records, best first (ties: earlier shard, then earlier trial)."""
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0
    done = [r for r in records if r.get("value") is not None]
    return sorted(done, key=lambda r: (sign * r["value"], r["shard"], r["number"]))


def best(records: list[Record], metric: str) -> Record | None:
    order = ranked(records, metric)
    return order[0] if order else None


def params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in params.items() if k != "model") or "-"


def decide(
    metric: str,
    winner: Record | None,
    baseline: Record | None,
    outputs: dict[str, Any],
    noise: GateParams,
    shards: int,
    scored: int,
) -> dict[str, Any]:
    """What `--apply` writes: the best of the `scored` trials when it beats params.yaml beyond
    the noise of the validation split (a paired bootstrap interval at the gate's confidence,
    corrected for the number of trials), else params.yaml."""
    keep = {"choice": "params.yaml", "trial": None, "interval": None}
    if winner is None or winner.get("number") == 0:
        return {**keep, "why": "params.yaml scored best"}
    chosen = {"choice": "trial", "trial": trial_id(winner, shards), "interval": None}
    if baseline is None or baseline.get("value") is None:
        return {**chosen, "why": "no params.yaml score to compare with"}
    ours, theirs = outputs.get("best"), outputs.get("baseline")
    if not ours or not theirs or ours.get("trial") != [winner["shard"], winner["number"]]:
        return {**chosen, "why": "no per-row outputs to compare with"}
    # The best of n trials is chosen for its score: the interval is widened for the n
    # comparisons (Bonferroni), or luck on the validation rows would pass for a gain.
    compared = max(1, scored)
    confidence = 1 - (1 - noise.confidence) / compared
    # enough resamples for 20 in each tail, within reason
    resamples = min(max(noise.resamples, round(40 / (1 - confidence))), 20_000)
    ci = bootstrap.interval(ours, theirs, metric, confidence, resamples, split="validation")
    interval = {"low": ci.low, "high": ci.high, "confidence": ci.confidence, "rows": ci.rows}
    if ci.verdict == "better":
        return {**chosen, "interval": interval, "why": ci.text()}
    return {**keep, "interval": interval, "why": ci.text()}


def leaderboard(
    *,
    metric: str,
    seed: int,
    families: list[str],
    shards: list[dict[str, Any]],
    baseline: Record | None,
    trials: list[Record],
    seconds: float,
    outputs: dict[str, Any],
    noise: GateParams,
) -> dict[str, Any]:
    """The leaderboard document: `best` is the best scored trial or params.yaml's entry;
    `decision` what `--apply` writes; `outputs` the validation rows behind that decision."""
    everything = ([baseline] if baseline else []) + trials
    winner = best(everything, metric)
    counts = {state: sum(r["state"] == state for r in trials) for state in ("pruned", "failed")}
    return {
        "metric": metric,
        "direction": "minimize" if metric in LOWER_IS_BETTER else "maximize",
        "split": "validation",
        "seed": seed,
        "families": families,
        "shards": shards,
        "seconds": seconds,
        "counts": {"trials": len(trials), **counts},
        "baseline": baseline,
        "best": winner,
        "decision": decide(
            metric,
            winner,
            baseline,
            outputs,
            noise,
            len(shards),
            sum(r.get("value") is not None for r in trials),
        ),
        "trials": trials,
        "outputs": outputs,
    }


def merge(boards: list[dict[str, Any]], noise: GateParams) -> dict[str, Any]:
    """One leaderboard from the sub-studies' (same metric and families; no shared database)."""
    if not boards:
        raise ValueError("no leaderboards to merge")
    first = boards[0]
    for other in boards[1:]:
        for key in ("metric", "families"):
            if other[key] != first[key]:
                raise ValueError(f"leaderboards differ in {key}: {first[key]} vs {other[key]}")
    metric = first["metric"]
    baselines = [b for b in boards if b.get("baseline")]
    trials = [t for b in boards for t in b["trials"]]
    top = best(trials, metric)
    found = [b["outputs"].get("best") for b in boards if b.get("outputs", {}).get("best")]
    outputs = {
        "baseline": baselines[0]["outputs"].get("baseline") if baselines else None,
        "best": next(
            (o for o in found if top is not None and o["trial"] == [top["shard"], top["number"]]),
            None,
        ),
    }
    return leaderboard(
        metric=metric,
        seed=min(b["seed"] for b in boards),
        families=first["families"],
        shards=sorted((s for b in boards for s in b["shards"]), key=lambda s: s["shard"]),
        baseline=baselines[0]["baseline"] if baselines else None,
        trials=trials,
        seconds=max(b["seconds"] for b in boards),
        outputs=outputs,
        noise=noise,
    )


def _value(record: Record | None) -> str:
    return "–" if record is None or record.get("value") is None else f"{record['value']:.4f}"


def markdown(doc: dict[str, Any]) -> str:
    """The leaderboard as Markdown: a summary line and the best trials."""
    metric, shards = doc["metric"], len(doc["shards"])
    counts, winner, baseline = doc["counts"], doc["best"], doc["baseline"]
    families = ", ".join(f"`{f}`" for f in doc["families"])
    split = f" in {shards} parallel sub-studies" if shards > 1 else ""
    lines = [
        f"## Hyperparameter search: {metric} on the validation split",
        "",
        f"{counts['trials']} trials of {families}{split} (seed {doc['seed']}), "
        f"{doc['seconds']:.0f} s; {counts['pruned']} pruned, {counts['failed']} failed. "
        "The test split was not used.",
        "",
    ]
    decision = doc["decision"]
    if winner is None:
        lines.append("No trial finished with a score.")
    elif winner.get("number") == 0:
        lines.append(f"params.yaml is already the best: {metric} = {_value(winner)}.")
    else:
        change = ""
        if baseline is not None and baseline.get("value") is not None:
            change = (
                f" (params.yaml: {_value(baseline)}, {winner['value'] - baseline['value']:+.4f})"
            )
        lines.append(
            f"Best: trial {trial_id(winner, shards)}, {metric} = {_value(winner)}{change}."
        )
        if decision["choice"] == "trial":
            lines.append(
                f"`make tune-apply` writes its params into params.yaml: {decision['why']}."
            )
        else:
            lines.append(
                "`make tune-apply` keeps params.yaml, the gain is not beyond the noise of the "
                f"validation split: {decision['why']}. "
                "`python -m mlops_template.tuning.apply --best` writes the trial anyway."
            )
    rows = ranked(([baseline] if baseline else []) + doc["trials"], metric)[:TOP]
    if rows:
        lines += [
            "",
            f"| rank | trial | model | {metric} | epochs | seconds | params |",
            "|---:|---|---|---:|---:|---:|---|",
        ]
        for rank, r in enumerate(rows, 1):
            lines.append(
                f"| {rank} | {trial_id(r, shards)} | {r['params']['model']} | {_value(r)} "
                f"| {r['epochs']} | {r['seconds']:.1f} | {params_text(r['params'])} |"
            )
    return "\n".join(lines) + "\n"


def write(doc: dict[str, Any], path: Path = JSON) -> None:
    """The JSON leaderboard at `path`, its Markdown next to it (same name, .md)."""
    io.write_json(path, doc)
    io.write_bytes(path.with_suffix(".md"), markdown(doc).encode())
