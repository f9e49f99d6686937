"""The log lines a client can make the server write by the thousand are rate-limited
(`api/logs.py`); the real server's log is checked in tests/api/test_hostile_http.py."""

from __future__ import annotations

import logging

import pytest

from api import logs


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def records(logger: logging.Logger) -> list[str]:
    (handler,) = [h for h in logger.handlers if isinstance(h, Keep)]
    return [r.getMessage() for r in handler.records]


@pytest.fixture
def logger() -> logging.Logger:
    made = logging.getLogger("tests.log_limit")
    made.handlers, made.filters, made.propagate = [Keep()], [], False
    made.setLevel(logging.INFO)
    return made


def test_one_line_per_message_and_window_then_a_count_of_the_rest(logger: logging.Logger) -> None:
    now = [0.0]
    logger.addFilter(logs.RateLimit(10.0, clock=lambda: now[0]))
    for _ in range(1000):
        logger.warning("Invalid HTTP request received.")
    logger.warning("Unsupported upgrade request.")  # another message: its own window
    logger.error("a real error")
    logger.error("a real error")  # errors always pass
    now[0] = 10.5
    logger.warning("Invalid HTTP request received.")
    assert records(logger) == [
        "Invalid HTTP request received.",
        "Unsupported upgrade request.",
        "a real error",
        "a real error",
        "Invalid HTTP request received. (and 999 more like it, not logged)",
    ]


def test_the_messages_remembered_are_bounded(logger: logging.Logger) -> None:
    limit = logs.RateLimit(10.0, clock=lambda: 0.0)
    logger.addFilter(limit)
    for i in range(logs.MAX_MESSAGES * 4):
        logger.warning("message %d" % i)  # a client-chosen text as the template, at worst
    assert len(limit.passed) <= logs.MAX_MESSAGES and len(limit.held) <= logs.MAX_MESSAGES
    assert len(records(logger)) == logs.MAX_MESSAGES * 4


def test_limit_installs_one_filter() -> None:
    name = "tests.log_limit.install"
    logs.limit(name)
    logs.limit(name)
    assert sum(isinstance(f, logs.RateLimit) for f in logging.getLogger(name).filters) == 1
