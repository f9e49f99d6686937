"""Shared entry-point helpers: logging set-up and one-line errors with a non-zero exit."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from mlops_template.core.errors import ConfigError, StageError

log = logging.getLogger(__name__)


def run(main: Callable[[], None]) -> None:
    """Run a stage's main(): configure logging once, turn expected errors into one line."""
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    try:
        main()
    except (StageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        raise SystemExit(1) from None
    except FileNotFoundError as exc:  # an input an earlier stage writes is missing
        what = f"{exc.filename}: not found" if exc.filename else str(exc)
        print(f"error: {what} (run the earlier stages first: dvc repro)", file=sys.stderr)
        raise SystemExit(1) from None
