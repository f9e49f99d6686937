"""Write a leaderboard's chosen params into params.yaml, keeping its comments and layout.

    python -m mlops_template.tuning.apply [--from reports/tune.json] [--best]

The leaderboard's `decision` is the best trial when it beats params.yaml beyond the noise of
the validation split, else params.yaml itself (nothing to write); `--best` writes the best
trial regardless. Only the `train` keys that trial set change (the family and its searched
keys); the result is validated like any params.yaml before it is written, so `dvc repro`
trains exactly that trial's model and the merge request shows the diff.
"""

from __future__ import annotations

import argparse
import io as textio
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlops_template.core import config, io, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.tuning import board

log = logging.getLogger(__name__)


def _yaml() -> Any:
    from ruamel.yaml import YAML  # DVC's own YAML library: round-trips comments

    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap a long comment
    yaml.representer.add_representer(
        type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null")
    )
    return yaml


def updated(text: str, values: dict[str, Any]) -> str:
    """params.yaml `text` with `train.<key>` set to each of `values`, comments kept."""
    from ruamel.yaml.comments import CommentedSeq

    yaml = _yaml()
    doc = yaml.load(text)
    if doc is None or not isinstance(doc.get("train", {}), dict):
        raise StageError("tune: params.yaml has no `train` mapping to write into")
    if doc.get("train") is None:
        doc["train"] = {}
    train = doc["train"]
    for key, value in values.items():
        if isinstance(value, list):
            seq = CommentedSeq(value)
            seq.fa.set_flow_style()  # [64, 32], as the file writes lists
            value = seq
        train[key] = value
    out = textio.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def apply(doc: dict[str, Any], path: Path = paths.PARAMS, best: bool = False) -> dict[str, Any]:
    """Write the chosen trial's train params of leaderboard `doc` into `path` (with `best`, the
    best trial's even within noise); return what was written ({} when params.yaml stays)."""
    winner = doc.get("best")
    if winner is None:
        raise StageError("tune: the leaderboard has no scored trial to apply")
    decision = doc.get("decision") or {"choice": "trial", "why": "no decision recorded"}
    if winner.get("number") == 0 or (decision["choice"] != "trial" and not best):
        log.info("tune: params.yaml unchanged (%s)", decision.get("why", "it scored best"))
        return {}
    values: dict[str, Any] = dict(winner["params"])
    text = updated(path.read_text(), values)
    import yaml as pyyaml

    config.from_dict(pyyaml.safe_load(text))  # refuse to write params the stages would refuse
    io.write_bytes(path, text.encode())
    which = board.trial_id(winner, len(doc.get("shards", [])))
    log.info(
        "tune: wrote trial %s (%s = %s) into %s: model=%s %s",
        which,
        doc["metric"],
        winner["value"],
        path,
        values["model"],
        board.params_text(values),
    )
    return values


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--from", dest="source", type=Path, default=board.JSON)
    parser.add_argument("--best", action="store_true", help="the best trial even within noise")
    args = parser.parse_args(argv)
    try:
        doc = io.read_json(args.source)
    except FileNotFoundError:
        raise StageError(f"tune: {args.source} not found; run `make tune` first") from None
    apply(doc, best=args.best)


if __name__ == "__main__":
    run(main)
