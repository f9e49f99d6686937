"""Stage 1 — load: read `data.source`, validate it, write the raw table.

Everything is checked before anything is written, so a bad file fails with one line
naming the file, the column and the reason, and the previous output stays as it was.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_template.stages import columns, datasets, production
from mlops_template.core import config, io, paths
from mlops_template.core.cli import run
from mlops_template.core.errors import StageError
from mlops_template.core.config import DataParams
from mlops_template.core.schema import infer_task

log = logging.getLogger(__name__)

HUGE = 1e150  # larger numbers overflow float64 when squared


def validate(frame: pd.DataFrame, params: DataParams) -> pd.DataFrame:
    """Return `frame` if it can be trained on, else raise StageError naming what is wrong."""
    where = params.source
    if frame.shape[1] == 0 or len(frame) == 0:
        raise StageError(f"{where}: no rows")
    if params.target not in frame.columns:
        hint = ""
        if frame.shape[1] == 1:
            hint = f"; only one column was read, is data.sep ({params.sep!r}) the file's separator?"
        names = ", ".join(map(str, frame.columns[:10]))
        raise StageError(
            f"{where}: target column '{params.target}' not found (columns: {names}){hint}"
        )
    if frame.shape[1] < 2:
        raise StageError(f"{where}: no feature columns besides the target '{params.target}'")
    empty = [str(c) for c in frame.columns if frame[c].isna().all()]
    if empty:
        raise StageError(f"{where}: column '{empty[0]}' is empty (all values missing)")
    columns.refuse_mixed_numbers(frame, where)  # before the label's checks: it may be one
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
        if classes * 2 > labelled:
            raise StageError(
                f"{where}: column '{params.target}' has {classes:,} distinct values in "
                f"{labelled:,} labelled rows: too many classes to learn (an ID?); numbers to "
                "predict need data.task: regression"
            )
        one_way(where, frame[params.target])
    elif not pd.api.types.is_numeric_dtype(frame[params.target]):
        raise StageError(f"{where}: column '{params.target}' must be numeric for regression")
    elif frame[params.target].nunique() < 2:
        raise StageError(f"{where}: column '{params.target}' has one value: nothing to predict")
    for name in frame.columns:
        not_huge(where, frame[name])
    return frame


def one_way(where: str, labels: pd.Series) -> None:
    """StageError when two classes differ only in upper/lower case ('Yes', 'yes'): one class
    written two ways would be learned as two. (Surrounding spaces are stripped in preprocess.)"""
    seen: dict[str, str] = {}
    for value in pd.unique(labels.dropna().astype(str).str.strip()):
        key = value.casefold()
        if key in seen and seen[key] != value:
            raise StageError(
                f"{where}: column '{labels.name}' has classes '{seen[key]}' and '{value}', "
                "which differ only in upper/lower case; write each class one way"
            )
        seen[key] = value


def not_huge(where: str, column: pd.Series) -> None:
    """StageError for a number column with a finite value past ± HUGE: its square overflows
    (the scaling's variance, a squared error) and training fails with NaNs."""
    if not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return
    values = np.abs(column.to_numpy(dtype=float, na_value=np.nan))
    big = values[np.isfinite(values) & (values > HUGE)]
    if len(big):
        raise StageError(
            f"{where}: column '{column.name}' has {len(big):,} value(s) as large as "
            f"{big.max():.3g}; past ±{HUGE:.0e} squares overflow: rescale the column "
            "(e.g. in thousands, or its logarithm)"
        )


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
    if (
        as_is
        and source.is_file()
        and list(frame.columns) == datasets.parquet_names(params.source, source)
    ):
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
