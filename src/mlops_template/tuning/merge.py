"""Join the leaderboards of parallel sub-studies (the CI `tune` jobs) into one.

    python -m mlops_template.tuning.merge SHARD.json... [--out reports/tune.json] [--apply]

No shared database: each job ran its own seeded study and wrote its trials; this ranks them
all together and writes reports/tune.json and reports/tune.md.
"""

from __future__ import annotations

import argparse
import json
import logging
from collections.abc import Sequence
from pathlib import Path

from mlops_template.core import config, io
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.tuning import board

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("boards", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=board.JSON)
    parser.add_argument("--apply", action="store_true", help="write the best params")
    args = parser.parse_args(argv)
    docs = []
    for path in args.boards:
        try:
            docs.append(io.read_json(path))
        except (OSError, json.JSONDecodeError) as exc:
            raise StageError(f"tune: {path}: can't read a leaderboard ({exc})") from None
    try:
        merged = board.merge(docs, config.load().gate)
    except (ValueError, KeyError) as exc:
        raise StageError(f"tune: can't merge {len(docs)} leaderboards: {exc}") from None
    board.write(merged, args.out)
    log.info("tune: merged %d sub-studies -> %s", len(docs), args.out)
    print(board.markdown(merged))
    if args.apply:
        from mlops_template.tuning import apply

        apply.apply(merged)


if __name__ == "__main__":
    run(main)
