"""Quality gate: fail when the headline metric is below `gate.min`, or worse than the
baseline (e.g. the merge request's target branch) by more than `gate.max_drop` — with
`gate.use_ci`, only when a bootstrap interval of the difference says it is worse beyond noise.

    python -m mlops_template.review.gate [--baseline-ref main | --baseline FILE]

Prints one line with the verdict; exits 1 when the model falls short.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops_template.core import config, io, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.core.config import LOWER_IS_BETTER, GateParams
from mlops_template.review import bootstrap
from mlops_template.review.bootstrap import Interval

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    passed: bool
    message: str


def check(
    metrics: dict[str, float],
    gate: GateParams,
    baseline: dict[str, float] | None,
    ci: Interval | None = None,
) -> Verdict:
    """Compare the headline metric with the minimum and, if given, the baseline (a drop past
    max_drop within the noise of interval `ci` passes when gate.use_ci is on)."""
    name = gate.metric
    if name not in metrics:
        raise StageError(
            f"gate: metric '{name}' not in the evaluation metrics ({', '.join(metrics)})"
        )
    value = metrics[name]
    lower = name in LOWER_IS_BETTER
    sign = -1.0 if lower else 1.0
    bound = "max" if lower else "min"
    if sign * (value - gate.min) < 0:
        return Verdict(
            False, f"FAIL: {name} = {value:.4f} is worse than gate.min {bound} {gate.min}"
        )
    if baseline is not None and name in baseline:
        drop = sign * (baseline[name] - value)
        if drop > gate.max_drop:
            dropped = (
                f"{name} = {value:.4f} dropped {drop:.4f} from the "
                f"baseline {baseline[name]:.4f} (gate.max_drop {gate.max_drop})"
            )
            if gate.use_ci and ci is not None and ci.verdict != "worse":
                return Verdict(True, f"PASS: {dropped}, within noise: {ci.text()}")
            if gate.use_ci:
                why = (
                    ci.text() if ci is not None else "no interval: baseline has no per-row outputs"
                )
                return Verdict(False, f"FAIL: {dropped}; {why}")
            return Verdict(False, f"FAIL: {dropped}")
        return Verdict(
            True,
            f"PASS: {name} = {value:.4f} ({bound} {gate.min}; baseline "
            f"{baseline[name]:.4f}, change {-sign * drop:+.4f}, max drop {gate.max_drop})",
        )
    return Verdict(True, f"PASS: {name} = {value:.4f} ({bound} {gate.min}; no baseline)")


def committed(ref: str, path: Path) -> Any:
    """The JSON file `path` as committed on git `ref`, or None if the ref or file doesn't exist."""
    result = subprocess.run(
        ["git", "show", f"{ref}:{path.as_posix()}"], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        log.info("gate: no baseline at %s:%s (%s)", ref, path, result.stderr.strip())
        return None
    try:
        return json.loads(result.stdout)
    except json.JSONDecodeError as exc:
        log.warning("gate: %s:%s is not JSON (%s)", ref, path, exc)
        return None


def baseline_from_ref(ref: str, path: Path = paths.METRICS) -> dict[str, float] | None:
    """The metrics file as committed on git `ref`, or None if the ref or file doesn't exist."""
    data: dict[str, float] | None = committed(ref, path)
    return data


def interval_from_ref(ref: str, gate: GateParams) -> Interval | None:
    """The bootstrap interval of this workspace's model against the one committed on `ref`
    (None when either side has no per-row outputs or they can't be compared)."""
    baseline = committed(ref, paths.PREDICTIONS)
    if baseline is None or not paths.PREDICTIONS.is_file():
        return None
    try:
        return bootstrap.interval(
            io.read_json(paths.PREDICTIONS), baseline, gate.metric, gate.confidence, gate.resamples
        )
    except (KeyError, ValueError, TypeError) as exc:
        log.warning("gate: no bootstrap interval against %s (%s: %s)", ref, type(exc).__name__, exc)
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--metrics", type=Path, default=paths.METRICS)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--baseline", type=Path, help="metrics JSON of the model to compare with")
    group.add_argument("--baseline-ref", help="git ref whose committed metrics to compare with")
    args = parser.parse_args()
    gate = config.load().gate
    try:
        metrics = io.read_json(args.metrics)
    except FileNotFoundError as exc:
        raise StageError(f"gate: {args.metrics} not found; run the pipeline first") from exc
    baseline = None
    if args.baseline is not None:
        baseline = io.read_json(args.baseline)
    elif args.baseline_ref:
        baseline = baseline_from_ref(args.baseline_ref)
    ci = interval_from_ref(args.baseline_ref, gate) if args.baseline_ref and gate.use_ci else None
    verdict = check(metrics, gate, baseline, ci)
    print(verdict.message)
    if not verdict.passed:
        raise SystemExit(1)


if __name__ == "__main__":
    run(main)
