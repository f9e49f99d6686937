"""`python -m api`: serve MODEL_DIR with gunicorn + uvicorn workers (see gunicorn_conf.py).

HOST, PORT, WORKERS (defaults 127.0.0.1, 8000, 2) and the rest of `api.settings` come
from the environment. The process becomes the gunicorn master (exec), so SIGTERM to it
is a graceful shutdown.
"""

from __future__ import annotations

import os
import sys

from api import gunicorn_conf
from api.feedback import keys


def main() -> None:
    gunicorn_conf.prepare_multiprocess_dir()  # before gunicorn imports prometheus_client
    keys.generate_for_server()  # no FEEDBACK_KEY: one made-up key for all workers (demo)
    args = [sys.executable, "-m", "gunicorn", "--config", "python:api.gunicorn_conf"]
    os.execv(sys.executable, args)


if __name__ == "__main__":
    main()
