"""The layout of captured traffic: the one place the API's writer (api/feedback/capture.py)
and the readers (the join command, the drift report) agree on.

    <CAPTURE_URL>/predictions/date=YYYY-MM-DD/<first ms>-<host>-<pid>-<seq>.parquet
        id, served_at, model_version, prediction, then one column per captured feature
    <CAPTURE_URL>/labels/date=YYYY-MM-DD/<first ms>-<host>-<pid>-<seq>.parquet
        id, label, labelled_at, served_at, model_version, prediction

CAPTURE_URL is a folder or any fsspec URL (s3://bucket/prefix with s3fs; credentials from
the environment, e.g. AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_ENDPOINT_URL).
Times are UTC. Files are written whole (a local file appears under its final name only once
complete), so a reader never sees half a file.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pandas as pd

PREDICTIONS, LABELS = "predictions", "labels"
STREAMS = (PREDICTIONS, LABELS)
ID, SERVED_AT, LABELLED_AT = "id", "served_at", "labelled_at"
VERSION, PREDICTION, LABEL = "model_version", "prediction", "label"
META = (ID, SERVED_AT, VERSION, PREDICTION)  # the prediction stream's first columns
PARTITION = re.compile(r"date=(\d{4}-\d{2}-\d{2})$")
# Parquet schema metadata of prediction files: features left out / written as keyed hashes.
DROPPED, HASHED = b"capture.dropped", b"capture.hashed"


def partition(day: dt.date) -> str:
    return f"date={day.isoformat()}"


def filesystem(url: str) -> tuple[Any, str]:
    """(fsspec filesystem, root path) of a capture URL."""
    from fsspec.core import url_to_fs

    fs, root = url_to_fs(url)
    return fs, str(root).rstrip("/")


def days(fs: Any, root: str, stream: str) -> dict[dt.date, str]:
    """The date partitions of a stream: day → folder path."""
    base = f"{root}/{stream}"
    if not fs.exists(base):
        return {}
    out = {}
    for path in fs.ls(base, detail=False):
        match = PARTITION.search(str(path).rstrip("/"))
        if match:
            out[dt.date.fromisoformat(match.group(1))] = str(path).rstrip("/")
    return out


def read(url: str, stream: str, since: dt.datetime | None = None) -> pd.DataFrame:
    """Every captured row of `stream` (served or labelled at/after `since`, when given)."""
    import pyarrow.parquet as pq

    fs, root = filesystem(url)
    frames = []
    left_out: set[str] = set()
    for day, folder in sorted(days(fs, root, stream).items()):
        if since is not None and day < since.date():
            continue
        for path in sorted(fs.glob(f"{folder}/*.parquet")):
            with fs.open(path, "rb") as handle:
                table = pq.read_table(handle)
            meta = table.schema.metadata or {}
            for key in (DROPPED, HASHED):
                left_out |= {n for n in meta.get(key, b"").decode().split(",") if n}
            frames.append(table.to_pandas())
    if not frames:
        return pd.DataFrame()
    frame: pd.DataFrame = pd.concat(frames, ignore_index=True)
    frame.attrs["left_out"] = sorted(left_out)  # dropped or hashed features: not data
    column = SERVED_AT if stream == PREDICTIONS else LABELLED_AT
    if since is not None and len(frame):
        frame = frame[frame[column] >= pd.Timestamp(since)].reset_index(drop=True)
    return frame
