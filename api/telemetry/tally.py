"""Counts gathered in memory per request and written to prometheus_client in bulk.

A request adds to a dict (a few dict updates) instead of ~40 locked mmap writes; `flush()`
writes everything out with one `inc(n)` per non-empty bin, every FLUSH_SECONDS from a
background thread, before each scrape and at shutdown.
"""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from api.telemetry import promclient

FLUSH_SECONDS = 0.5


class Tally:
    """Pending counter increments and histogram observations. Callers hold `lock` while adding."""

    def __init__(self, before_flush: Callable[[], None] = lambda: None) -> None:
        self.lock = threading.Lock()
        self.pending: dict[Any, float] = {}
        self.pending_hist: dict[Any, list[Any]] = {}
        self.before_flush = before_flush
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, child: Any, amount: float) -> None:
        pending = self.pending
        pending[child] = pending.get(child, 0.0) + amount

    def count(self, children: list[Any], idx: np.ndarray) -> None:
        """One more in children[i] for every i in `idx`."""
        for b, n in enumerate(np.bincount(idx, minlength=len(children)).tolist()):
            if n:
                self.add(children[b], n)

    def observe(self, histogram: Any, values: Sequence[float]) -> None:
        entry = self.pending_hist.get(histogram)
        if entry is None:
            bounds = promclient.upper_bounds(histogram)
            entry = self.pending_hist[histogram] = [np.zeros(len(bounds)), 0.0, bounds]
        if len(values) == 1:
            entry[0][bisect_left(entry[2], values[0])] += 1
            entry[1] += values[0]
        else:
            entry[0] += promclient.bucket_counts(entry[2], values)
            entry[1] += float(np.sum(values))

    def flush(self) -> None:
        """Write the counts gathered since the last flush to prometheus_client."""
        with self.lock:
            pending, hists = self.pending, self.pending_hist
            self.pending, self.pending_hist = {}, {}
        self.before_flush()
        for child, amount in pending.items():
            child.inc(amount)
        for histogram, (counts, total, _) in hists.items():
            promclient.add_observations(histogram, counts.tolist(), total)

    def start(self, interval: float = FLUSH_SECONDS) -> None:
        """Flush every `interval` seconds in a background thread until stop()."""
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.flush()

        self._thread = threading.Thread(target=loop, name="metrics-flush", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.flush()
