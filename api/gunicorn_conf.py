"""gunicorn settings for `python -m api`: uvicorn workers, Prometheus multiprocess mode.

All values come from `api.settings.Settings` (the environment). The master prepares
PROMETHEUS_MULTIPROC_DIR before any worker starts and tells prometheus_client when a
worker dies, so live gauges drop its share while its counters keep counting.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from prometheus_client import multiprocess

from api.settings import Settings

_settings = Settings()
log = logging.getLogger("api.gunicorn")

wsgi_app = "api.main:create_app()"
bind = [f"{_settings.host}:{_settings.port}"]
workers = _settings.workers
# uvicorn's worker with a drain on SIGTERM and read timeouts for slow clients (api/worker.py).
worker_class = "api.worker.Worker"
# SIGTERM: drain (DRAIN_SECONDS), then in-flight requests finish, all within this long.
graceful_timeout = _settings.graceful_timeout
# The heartbeat file every worker touches: in memory, so a read-only root filesystem is fine.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
timeout = _settings.timeout
keepalive = 5
accesslog = None  # request counts and latency are in /metrics; access logs cost ~10 % req/s
loglevel = _settings.log_level
# Merged over gunicorn's defaults: the root logger (the api.* modules) goes to stderr too.
_level = _settings.log_level.upper()
logconfig_dict: dict[str, Any] = {
    "root": {"level": _level, "handlers": ["error_console"]},
    "loggers": {
        "gunicorn.error": {"level": _level, "handlers": [], "propagate": True},
        "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
        "uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": True},
    },
}
control_socket_disable = True  # gunicorn >= 27: one fixed socket path would clash between servers


def prepare_multiprocess_dir() -> Path:
    """PROMETHEUS_MULTIPROC_DIR (a fresh temp dir if unset), emptied of old worker files."""
    path = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(prefix="prom-"))
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):  # only prometheus_client's own files
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(path)
    return path


def on_starting(server: Any) -> None:
    path = prepare_multiprocess_dir()
    log.info("Prometheus multiprocess dir: %s", path)


def child_exit(server: Any, worker: Any) -> None:
    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
