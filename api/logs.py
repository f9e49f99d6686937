"""A log filter for the lines a client can make the server write by the thousand.

uvicorn logs a warning for every malformed request ("Invalid HTTP request received."), every
refused upgrade and every connection over its limit. A client sending garbage in a loop then
writes as many log lines as it sends requests: a disk that fills, and real errors buried.
`RateLimit` lets one record of each message through per `seconds`, and the next one that passes
says how many were held back. Errors and above always pass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

WINDOW_SECONDS = 10.0
MAX_MESSAGES = 256  # distinct messages remembered; past that the oldest are forgotten


class RateLimit(logging.Filter):
    """At most one record per message (its template, `record.msg`) every `seconds`."""

    def __init__(
        self, seconds: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.seconds, self.clock = seconds, clock
        self.passed: dict[str, float] = {}  # message -> when one last passed
        self.held: dict[str, int] = {}  # message -> records held back since
        self.lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        key, now = str(record.msg), self.clock()
        with self.lock:
            last = self.passed.get(key)
            if last is not None and now - last < self.seconds:
                self.held[key] = self.held.get(key, 0) + 1
                return False
            if key not in self.passed and len(self.passed) >= MAX_MESSAGES:
                oldest = min(self.passed, key=self.passed.__getitem__)
                del self.passed[oldest]
                self.held.pop(oldest, None)
            self.passed[key] = now
            held = self.held.pop(key, 0)
        if held:
            record.msg = f"{record.msg} (and {held} more like it, not logged)"
        return True


def limit(name: str = "uvicorn.error", seconds: float = WINDOW_SECONDS) -> None:
    """Put a RateLimit on logger `name` (once)."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RateLimit) for f in logger.filters):
        logger.addFilter(RateLimit(seconds))
