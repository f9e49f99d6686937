"""Opt-in capture: served rows, predictions and labels to Parquet, off the request path.

`predictions()` and `labels()` are called from the model thread and the event loop; they only
sample and append a reference to a bounded in-memory buffer (no copy, no I/O, no waiting).
A background thread turns the buffer into Arrow tables and writes files rolled by size
(CAPTURE_FILE_ROWS) and time (CAPTURE_FILE_SECONDS) through `api.feedback.sink.Sink`.

When the sink is slow or down, the thread keeps the rows it could not write and retries with
backoff; new rows that don't fit in CAPTURE_BUFFER_ROWS are dropped and counted
(`model_capture_rows_total{outcome="dropped"}`): capture never blocks or fails a prediction.
`close()` (the app's shutdown, after the model thread finished) writes everything buffered;
a sink that stays down for CAPTURE_FLUSH_SECONDS loses what is left, counted as dropped.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mlops_template.core import capture as layout
from mlops_template.core.card import ModelCard

from api.feedback.settings import CaptureSettings
from api.feedback.sink import Block, Columns, Sink
from api.records import Records
from api.telemetry.quality import Quality

log = logging.getLogger(__name__)
RETENTION_CHECK_SECONDS = 3600.0
MAX_BACKOFF = 30.0


CONVERT_SECONDS = 0.5
BLOCK_ROWS = 16  # from this many rows a chunk keeps columns, not row tuples (see Block)
FIRST = {layout.PREDICTIONS: layout.SERVED_AT, layout.LABELS: layout.LABELLED_AT}


@dataclass
class Stream:
    name: str
    chunks: list[Any] = field(default_factory=list)  # as offered (request side appends)
    tables: list[Any] = field(default_factory=list)  # converted, not yet written (thread only)
    rows: int = 0  # in chunks and tables
    since: float = 0.0  # monotonic time of the oldest buffered row


class Capture:
    def __init__(
        self, settings: CaptureSettings, card: ModelCard, quality: Quality, hash_key: bytes
    ) -> None:
        self.settings, self.quality = settings, quality
        self.columns = Columns(card, settings.dropped, settings.hashed, hash_key)
        self.sink = Sink(settings.url, unique=settings.hashed)
        self.streams = {name: Stream(name) for name in layout.STREAMS}
        self.lock = threading.Lock()  # the buffers (held for a few appends at a time)
        self.wake = threading.Event()  # close() wakes the thread at once
        self.limit = settings.buffer_rows
        self.total = 0  # rows in every stream's chunks and tables
        self.closing = False
        self.rng = np.random.default_rng()
        self._thread: threading.Thread | None = None

    # -- request side (never blocks on I/O) ----------------------------------------------

    def predictions(self, records: Records, ids: list[str], predicted: np.ndarray, ms: int) -> None:
        """Rows as the model thread has them (their float matrix is cached on `records`);
        converted to columns on the capture thread."""
        rate = self.settings.sample
        if rate < 1.0:
            keep = np.flatnonzero(self.rng.random(len(ids)) < rate)
            if not len(keep):
                return
            rows = records.rows
            records = Records([rows[i] for i in keep.tolist()])
            ids = [ids[i] for i in keep.tolist()]
            predicted = predicted[keep]
        part: Records | Block = records
        if len(ids) >= BLOCK_ROWS:
            part = Block(records, self.columns.numeric, self.columns.others)
        self._offer(layout.PREDICTIONS, (part, ids, predicted, ms), len(ids))

    def labels(self, rows: list[dict[str, Any]]) -> None:
        self._offer(layout.LABELS, rows, len(rows))

    def _offer(self, name: str, chunk: Any, n: int) -> None:
        stream = self.streams[name]
        with self.lock:
            dropped = self.closing or self.total + n > self.limit
            if not dropped:
                if not stream.rows:
                    stream.since = time.monotonic()
                stream.chunks.append(chunk)
                stream.rows += n
                self.total += n
        if dropped:
            self.quality.captured(name, "dropped", n)

    # -- the writer thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write everything buffered, then stop (waits at most CAPTURE_FLUSH_SECONDS + 10 s)."""
        with self.lock:
            self.closing = True
        self.wake.set()
        if self._thread is not None:
            self._thread.join(self.settings.flush_seconds + 10)

    def _run(self) -> None:
        """Every CONVERT_SECONDS: turn the new chunks into Arrow tables (few Python objects
        live for long, and the work comes in small slices, not one long hold of the GIL);
        write a stream's tables as one file when it is due; retry a failing sink."""
        retry_at, deadline = 0.0, float("inf")
        backoff = 0.0
        next_expiry = time.monotonic()
        while True:
            if not self.closing:
                self.wake.wait(timeout=CONVERT_SECONDS)
            with self.lock:
                closing = self.closing
                raw = {name: s.chunks for name, s in self.streams.items()}
                for stream in self.streams.values():
                    stream.chunks = []
            now = time.monotonic()
            if closing and deadline == float("inf"):
                deadline = now + self.settings.flush_seconds
            for name, chunks in raw.items():
                if chunks:
                    self._convert(self.streams[name], chunks)
            if now >= retry_at:
                failed = False
                for stream in self.streams.values():
                    if stream.tables and self._due(stream, now, closing):
                        failed |= not self._write(stream)
                if failed:
                    backoff = min(max(2 * backoff, 0.5), 1.0 if closing else MAX_BACKOFF)
                    retry_at = time.monotonic() + backoff
                else:
                    backoff = 0.0
            if closing:
                if not any(s.rows for s in self.streams.values()):
                    return
                if time.monotonic() > deadline:
                    self._give_up()
                    return
                time.sleep(min(backoff, 0.5))
            elif time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + RETENTION_CHECK_SECONDS
                self._expire()
            self.quality.buffered(sum(s.rows for s in self.streams.values()))

    def _due(self, stream: Stream, now: float, closing: bool) -> bool:
        return (
            closing
            or stream.rows >= self.settings.file_rows
            or now - stream.since >= self.settings.file_seconds
        )

    def _convert(self, stream: Stream, chunks: list[Any]) -> None:
        try:
            if stream.name == layout.PREDICTIONS:
                table = self.columns.predictions(chunks)
            else:
                table = self.columns.labels([r for c in chunks for r in c])
        except Exception:  # a bug of ours: never let it stop capturing, say what was lost
            n = sum(len(c[1]) if stream.name == layout.PREDICTIONS else len(c) for c in chunks)
            log.exception("capture: %d %s rows could not be converted", n, stream.name)
            with self.lock:
                stream.rows -= n
                self.total -= n
            self.quality.captured(stream.name, "dropped", n)
            return
        stream.tables.append(table)

    def _write(self, stream: Stream) -> bool:
        """Write the stream's tables as files of at most CAPTURE_FILE_ROWS rows; keep what
        could not be written (False) for the next try."""
        table = pa.concat_tables(stream.tables)
        size = self.settings.file_rows
        for offset in range(0, table.num_rows, size):
            part = table.slice(offset, size)
            first = pc.min(part[FIRST[stream.name]]).cast(pa.int64()).as_py()
            try:
                path = self.sink.write(stream.name, part, int(first))
            except Exception as exc:  # any sink error: keep the rows, count, retry
                self.quality.write_failed()
                log.warning(
                    "capture: writing %s to %s failed: %s", stream.name, self.settings.url, exc
                )
                stream.tables = [table.slice(offset)]
                return False
            with self.lock:
                stream.rows -= part.num_rows
                self.total -= part.num_rows
                stream.since = time.monotonic() if stream.rows else 0.0
            self.quality.file_written(stream.name)
            self.quality.captured(stream.name, "written", part.num_rows)
            log.debug("capture: %d rows -> %s", part.num_rows, path)
        stream.tables = []
        return True

    def _give_up(self) -> None:
        with self.lock:
            for stream in self.streams.values():
                stream.tables = []
                if stream.rows:
                    log.error(
                        "capture: the sink stayed down for CAPTURE_FLUSH_SECONDS; %d %s rows lost",
                        stream.rows,
                        stream.name,
                    )
                    self.quality.captured(stream.name, "dropped", stream.rows)
                stream.chunks, stream.rows = [], 0
            self.total = 0

    def _expire(self) -> None:
        try:
            removed = self.sink.expire(self.settings.retention_days)
        except Exception as exc:  # retention is housekeeping: never stop capturing for it
            log.warning("capture: deleting old files failed: %s", exc)
            return
        if removed:
            log.info(
                "capture: deleted %d day folders older than %g days",
                removed,
                self.settings.retention_days,
            )
