"""Stage 1 — load: read `data.source`, validate it, write the raw table.

Everything is checked before anything is written, so a bad file fails with one line
naming the file, the column and the reason, and the previous output stays as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from mlops_template.stages import columns, datasets, production
from mlops_template.core import config, io, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.core.config import DataParams
from mlops_template.core.schema import infer_task

log = logging.getLogger(__name__)


def validate(frame: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    """Return `frame` if it can be trained on, else raise StageError naming what is wrong."""
    where = params.source
    if frame.shape[1] == 0 or len(frame) == 0:
        raise StageError(f"{where}: no rows")
    if params.target not in frame.columns:
        hint = ""
        if frame.shape[1] == 1:
            hint = f"; only one column was read, is data.sep ({params.sep!r}) the file's separator?"
        columns = ", ".join(map(str, frame.columns[:10]))
        raise StageError(
            f"{where}: target column '{params.target}' not found (columns: {columns}){hint}"
        )
    if frame.shape[1] < 2:
        raise StageError(f"{where}: no feature columns besides the target '{params.target}'")
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise StageError(f"{where}: column '{empty[0]}' is empty (all values missing)")
    labelled = int(frame[params.target].notna().sum())
    if labelled < params.min_rows:
        raise StageError(
            f"{where}: {labelled} rows with a label in column '{params.target}', "
            f"need at least {params.min_rows} (data.min_rows)"
        )
    task = params.task or infer_task(frame[params.target])
    if task == "classification":
        classes = frame[params.target].dropna().nunique()
        if classes < 2:
            raise StageError(
                f"{where}: column '{params.target}' has {classes} class, "
                "classification needs 2 or more"
            )
    elif not pd.api.types.is_numeric_dtype(frame[params.target]):
        raise StageError(f"{where}: column '{params.target}' must be numeric for regression")
    return frame


def main() -> None:
    everything = config.load()
    params = everything.data
    table = datasets.read(params.source, params.sep)
    combined = production.combine(table, everything.feedback)  # labelled production rows
    frame = validate(combined, params)
    frame.columns = [str(c) for c in frame.columns]
    ids = columns.id_like(frame, exclude=(params.target,))
    dates = columns.date_columns(frame, exclude=(params.target,))
    source = Path(params.source)
    as_is = combined is table and source.suffix.lower() in (".parquet", ".pq")
    if as_is and source.is_file():
        io.copy_file(source, paths.RAW)  # the same table: no second encoding of it
    else:
        io.write_parquet(paths.RAW, frame)
    unlabelled = int(frame[params.target].isna().sum())
    log.info(
        f"load: {len(frame):,} rows ({unlabelled:,} without a label) x {frame.shape[1]} columns "
        f"from {params.source} -> {paths.RAW}"
    )
    if ids:
        log.info(
            f"load: ID-like column(s) {', '.join(ids)} (text or integers, a distinct value in "
            "≥ 99 % of the rows): left out of the features unless preprocess.keep_ids is true"
        )
    if dates:
        log.info(f"load: date/time column(s) {', '.join(dates)}: used as numeric parts")


if __name__ == "__main__":
    run(main)
