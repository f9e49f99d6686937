"""Labelled production rows in the training data: how `load` combines `data.source` with
data/feedback/labelled.parquet (written by ct/feedback_data.py, the feedback-data target).

No table, no change. `feedback.mode: append` adds its rows after the source's; `replace`
trains on them alone (the source still fixes the columns and their order). The combined
table then goes through the load stage's checks like any data.
"""

from __future__ import annotations

import logging

import pandas as pd

from mlops_template.core import paths
from mlops_template.core.live_params import FeedbackParams
from mlops_template.core.errors import StageError

log = logging.getLogger(__name__)


def combine(source: pd.DataFrame, params: FeedbackParams) -> pd.DataFrame:
    """`source` with the labelled production rows, as `params.mode` says."""
    if not paths.FEEDBACK_TABLE.is_file():
        return source
    try:
        rows = pd.read_parquet(paths.FEEDBACK_TABLE)
    except (OSError, ValueError) as exc:
        raise StageError(f"{paths.FEEDBACK_TABLE}: can't be read ({exc})") from exc
    columns = [str(c) for c in source.columns]
    missing = [c for c in columns if c not in rows.columns]
    extra = [str(c) for c in rows.columns if str(c) not in columns]
    if missing or extra:
        raise StageError(
            f"{paths.FEEDBACK_TABLE}: columns differ from data.source's "
            f"(missing: {', '.join(missing) or '-'}; extra: {', '.join(extra) or '-'}); "
            "join the capture again (docs/feedback.md)"
        )
    rows = rows[columns]
    for column in columns:  # the source's dtypes, where the values allow it
        try:
            rows[column] = rows[column].astype(source[column].dtype)
        except (TypeError, ValueError):
            pass
    log.info(
        "load: %d labelled production rows from %s (%s)",
        len(rows),
        paths.FEEDBACK_TABLE,
        params.mode,
    )
    if params.mode == "replace":
        return rows.reset_index(drop=True)
    return pd.concat([source, rows], ignore_index=True)
