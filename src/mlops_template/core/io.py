"""Atomic writes, so a failed stage never leaves a half-written output behind."""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from collections.abc import Iterator
from typing import Any

import pandas as pd

ROW_GROUP = 100_000  # rows per Parquet row group: the unit the stages read and transform


def write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and an atomic rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def copy_file(source: Path, path: Path) -> None:
    """Copy `source` to `path` atomically, in blocks."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle, source.open("rb") as data:
            shutil.copyfileobj(data, handle, 1 << 20)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: Path) -> Any:
    return json.loads(path.read_text())


def read_parquet(path: Path | str, columns: list[str] | None = None) -> pd.DataFrame:
    """A Parquet file as a DataFrame, decoded one column at a time.

    pandas.read_parquet decodes every column at once and holds the file's pages, the Arrow
    table and the frame together: about 3x the frame's size at peak, and slower. Column by
    column, the peak is the frame plus one column."""
    source = parquet_file(path)
    stored = stored_columns(source.schema_arrow.names)
    names = stored if columns is None else columns
    missing = [c for c in names if c not in stored]
    if missing:
        raise KeyError(f"{path}: no column(s) {', '.join(missing)}")
    data = {name: _to_pandas(source.read(columns=[name]).column(0)) for name in names}
    return pd.DataFrame(data, copy=False)


def parquet_file(path: Path | str) -> Any:
    """A pyarrow ParquetFile; FileNotFoundError naming the path when there is none (pyarrow's
    own error doesn't carry the file name)."""
    import pyarrow.parquet as pq

    if not Path(path).exists():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    return pq.ParquetFile(path)


def stored_columns(names: list[str]) -> list[str]:
    """A Parquet file's column names without the pandas index pandas may have stored."""
    return [n for n in names if not n.startswith("__index_level_")]


def _to_pandas(column: Any) -> pd.Series:
    """An Arrow column as pandas; decimals (databases and Spark write money so) as float64,
    which pandas would leave as Decimal objects, and durations as float64 seconds, which pandas
    would make timedeltas: text to the pipeline, not numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_decimal(column.type):
        column = column.cast(pa.float64())
    elif pa.types.is_duration(column.type):
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[column.type.unit]
        column = pc.divide(column.cast(pa.int64()).cast(pa.float64()), float(per_second))
    series: pd.Series = column.to_pandas()
    return series


class FileRefused(ValueError):
    """A file to read is not a regular file, or is over its size limit."""


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), at most `limit` of them.

    Devices (`/dev/zero`), FIFOs and folders are refused without reading (a FIFO is opened
    non-blocking, so it can't hang), and so is a file over `limit` bytes, so memory stays
    bounded whatever the path points at.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused("not a regular file (a device, FIFO or folder)")
        if info.st_size > limit:
            raise FileRefused(f"{info.st_size} bytes, over the limit of {limit}")
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(limit + 1)
    finally:
        os.close(fd)
    if len(data) > limit:
        raise FileRefused(f"over the limit of {limit} bytes")
    return data


def write_parquet(path: Path, frame: pd.DataFrame, rows: Any = None) -> None:
    """Write `frame` (only the rows at positions `rows`, if given) to `path` atomically, in
    row groups of ROW_GROUP rows, converting one column at a time (no copy of the frame)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    os.close(fd)
    try:
        arrays = []
        for name in frame.columns:
            column = frame[name] if rows is None else frame[name].iloc[rows]
            arrays.append(pa.Array.from_pandas(column))
        table = pa.Table.from_arrays(arrays, names=[str(c) for c in frame.columns])
        del arrays
        pq.write_table(table, tmp, row_group_size=ROW_GROUP)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def parquet_rows(path: Path) -> int:
    return int(parquet_file(path).metadata.num_rows)


def parquet_chunks(path: Path, columns: list[str]) -> Iterator[pd.DataFrame]:
    """The rows of a Parquet file, one row group at a time."""
    source = parquet_file(path)
    for group in range(source.metadata.num_row_groups):
        # a column at a time, as read_parquet: a whole row group's to_pandas() held the Arrow
        # table, the consolidated block and the frame at once
        data = {
            name: _to_pandas(source.read_row_group(group, columns=[name]).column(0))
            for name in columns
        }
        yield pd.DataFrame(data, copy=False)
