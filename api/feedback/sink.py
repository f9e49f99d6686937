"""Where captured rows go: Arrow tables written as Parquet files to a folder or an fsspec URL,
and old files deleted after the retention period. Runs on the capture thread only."""

from __future__ import annotations

import datetime as dt
import hmac
import io
import logging
import os
import re
import socket
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from mlops_template.core import capture as layout
from mlops_template.core.card import ModelCard

from api.records import Records

log = logging.getLogger(__name__)
ARROW = {"numeric": pa.float64(), "categorical": pa.string(), "boolean": pa.bool_()}
# A captured category is cut to this many characters: the buffer holds CAPTURE_BUFFER_ROWS
# rows, and a client sending 1 MB categories (the body limit allows them) made every row
# 1 MB (100,000 rows: 100 GB). Longer than any category a model keeps a column for.
MAX_CATEGORY_CHARS = 256
UTC_MS = pa.timestamp("ms", tz="UTC")


class Columns:
    """How served rows (tuples in card feature order) become Arrow columns: dropped features
    are left out, hashed ones become a keyed hash (HMAC-SHA256, hex) of their text."""

    def __init__(self, card: ModelCard, drop: Sequence[str], hashed: Sequence[str], key: bytes):
        names = [f.name for f in card.features]
        unknown = sorted((set(drop) | set(hashed)) - set(names))
        if unknown:
            log.warning("CAPTURE_DROP/HASH_COLUMNS name no feature of the model: %s", unknown)
        self.key = key
        self.regression = card.task == "regression"
        self.version = card.version
        self.metadata = {
            layout.DROPPED: ",".join(n for n in names if n in drop).encode(),
            layout.HASHED: ",".join(n for n in names if n in hashed and n not in drop).encode(),
        }
        self.classes = pa.array(list(card.classes), pa.string())
        # Positions of numeric features, in card order: the columns the model's float matrix has
        self.numeric = [i for i, f in enumerate(card.features) if f.kind == "numeric"]
        self.numeric_at = {i: j for j, i in enumerate(self.numeric)}
        self.others = [
            i
            for i, f in enumerate(card.features)
            if f.name not in drop and (f.kind != "numeric" or f.name in hashed)
        ]
        self.kept = [
            (i, f.name, f.name in hashed, pa.string() if f.name in hashed else ARROW[f.kind])
            for i, f in enumerate(card.features)
            if f.name not in drop
        ]

    def _hash(self, value: Any) -> str | None:
        if value is None:
            return None
        return hmac.new(self.key, str(value).encode(), "sha256").hexdigest()[:32]

    def predictions(self, chunks: Sequence[tuple[Any, ...]]) -> pa.Table:
        """A table of chunks (records, ids, predicted, ms): numeric features straight from the
        float matrix the model used (no Python objects), the others from the rows."""
        ids = [i for c in chunks for i in c[1]]
        n = len(ids)
        predicted = np.concatenate([c[2] for c in chunks])
        sizes = [len(c[1]) for c in chunks]
        served = np.repeat(np.array([c[3] for c in chunks], dtype=np.int64), sizes)
        if self.regression:
            prediction = pa.array(predicted.astype(float))
        else:
            prediction = self.classes.take(pa.array(predicted.astype(np.int64)))
        arrays: dict[str, pa.Array] = {
            layout.ID: pa.array(ids, pa.string()),
            layout.SERVED_AT: pa.array(served).cast(UTC_MS),
            layout.VERSION: pa.array([self.version] * n, pa.string()),
            layout.PREDICTION: prediction,
        }
        matrix = None
        small = all(isinstance(c[0], Records) for c in chunks) and len(chunks) * 16 > n
        if self.numeric and small:  # many small chunks: one pass over all their rows
            joined = Records([r for c in chunks for r in c[0].rows])
            matrix = joined.floats(self.numeric)
        elif self.numeric:  # big chunks: the matrices the model used (cached, or kept)
            matrix = np.concatenate([c[0].floats(self.numeric) for c in chunks])
        for i, name, hashed, kind in self.kept:
            if i in self.numeric_at and not hashed and matrix is not None:
                column = matrix[:, self.numeric_at[i]]
                arrays[name] = pa.array(column, kind, mask=np.isnan(column))
                continue
            values = [v for c in chunks for v in _values(c[0], i)]
            if hashed:
                values = [self._hash(v) for v in values]
            arrays[name] = _short(pa.array(values, kind))
        return pa.table(arrays, metadata=self.metadata)

    def labels(self, rows: Sequence[dict[str, Any]]) -> pa.Table:
        label_type = pa.float64() if self.regression else pa.string()
        return pa.table(
            {
                layout.ID: pa.array([r["id"] for r in rows], pa.string()),
                layout.LABEL: pa.array([r["label"] for r in rows], label_type),
                layout.LABELLED_AT: pa.array([r["labelled_ms"] for r in rows]).cast(UTC_MS),
                layout.SERVED_AT: pa.array([r["served_ms"] for r in rows]).cast(UTC_MS),
                layout.VERSION: pa.array([r["model_version"] for r in rows], pa.string()),
                layout.PREDICTION: pa.array([r["prediction"] for r in rows], label_type),
            }
        )


class Block:
    """A big chunk's values without its row tuples (made on the model thread, so thousands
    of tuples don't outlive the request): the float matrix of the numeric features — the one
    the model used, cached on its Records — and the other features as lists."""

    def __init__(self, records: Records, numeric: list[int], others: Sequence[int]) -> None:
        self.matrix = records.floats(numeric) if numeric else np.zeros((len(records), 0))
        self.others = {i: [r[i] for r in records.rows] for i in others}

    def floats(self, positions: Sequence[int]) -> np.ndarray:
        return self.matrix


def _short(array: pa.Array) -> pa.Array:
    """Strings cut to MAX_CATEGORY_CHARS (a copy only when one is longer)."""
    if not pa.types.is_string(array.type) or not len(array):
        return array
    if (pc.max(pc.binary_length(array)).as_py() or 0) <= MAX_CATEGORY_CHARS:
        return array
    return pc.utf8_slice_codeunits(array, 0, MAX_CATEGORY_CHARS)


def _values(part: Records | Block, position: int) -> list[Any]:
    if isinstance(part, Block):
        return part.others[position]
    return [r[position] for r in part.rows]


class Sink:
    """Parquet files under a folder or fsspec URL (see mlops_template.core.capture)."""

    def __init__(self, url: str, unique: Sequence[str] = ()) -> None:
        self.url = url
        self.unique = {layout.ID, *unique}  # string columns whose values rarely repeat
        self.fs, self.root = layout.filesystem(url)
        self.local = "file" in _protocols(self.fs)
        host = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:60]
        self.name = f"{host}-{os.getpid()}"
        self.seq = 0

    def write(self, stream: str, table: pa.Table, first_ms: int) -> str:
        """Write one file; raise OSError (or the filesystem's error) when the sink fails."""
        day = dt.datetime.fromtimestamp(first_ms / 1000, dt.timezone.utc).date()
        folder = f"{self.root}/{stream}/{layout.partition(day)}"
        self.seq += 1
        path = f"{folder}/{first_ms}-{self.name}-{self.seq:06d}.parquet"
        buffer = io.BytesIO()
        # Dictionary encoding only where values repeat (strings: version, classes, categories);
        # tried on unique ids and floats it is most of a write's time. lz4: ~5x faster than
        # zstd here for about 10 % more bytes.
        dictionary = [
            field.name
            for field in table.schema
            if pa.types.is_string(field.type) and field.name not in self.unique
        ]
        pq.write_table(table, buffer, compression="lz4", use_dictionary=dictionary)
        data = buffer.getvalue()
        if self.local:  # a reader never sees a half-written file under the final name
            self.fs.makedirs(folder, exist_ok=True)
            partial = f"{folder}/.{first_ms}-{self.name}-{self.seq:06d}.partial"
            self.fs.pipe_file(partial, data)
            self.fs.mv(partial, path)
        else:  # object stores show an object only once its upload completed
            self.fs.pipe_file(path, data)
        return path

    def expire(self, retention_days: float, now: dt.datetime | None = None) -> int:
        """Delete date partitions older than the retention period; the number deleted."""
        if retention_days <= 0:
            return 0
        now = now or dt.datetime.now(dt.timezone.utc)
        oldest = (now - dt.timedelta(days=retention_days)).date()
        removed = 0
        for stream in layout.STREAMS:
            for day, folder in layout.days(self.fs, self.root, stream).items():
                if day < oldest:
                    self.fs.rm(folder, recursive=True)
                    removed += 1
        return removed


def _protocols(fs: Any) -> tuple[str, ...]:
    protocol = fs.protocol
    return (protocol,) if isinstance(protocol, str) else tuple(protocol)
