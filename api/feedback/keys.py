"""Where the key that signs prediction ids comes from.

FEEDBACK_KEY (one key) or FEEDBACK_KEY_FILE (a mounted secret: the first line signs, every
line verifies, so a key can be rotated without refusing the labels of recent predictions).
Every replica must have the same key(s): then the label for a prediction can go to any
replica, which checks the id itself, with no shared database.

Without either, the server makes up a key at start — `python -m api` does it once in the
gunicorn master, so its workers share it — and logs a warning: ids are then valid on this
server only until it restarts (fine for the demo, wrong behind a load balancer). With
FEEDBACK_KEY_REQUIRED=true (the Kubernetes manifests set it) a missing key is a start error:
/ready answers 503 with the reason, like a model that failed to load.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from api.feedback.ids import new_key
from api.feedback.settings import MIN_KEY_CHARS, FeedbackSettings

log = logging.getLogger(__name__)

GENERATED_MARK = "FEEDBACK_KEY_GENERATED"  # set by `python -m api` next to the key it made


class FeedbackKeyError(ValueError):
    """No usable key: the message says which setting to fix."""


@dataclass(frozen=True)
class Keys:
    keys: tuple[bytes, ...]
    generated: bool


def _check(key: str, where: str) -> bytes:
    if len(key) < MIN_KEY_CHARS:
        raise FeedbackKeyError(f"{where} is shorter than {MIN_KEY_CHARS} characters")
    return key.encode()


def load(settings: FeedbackSettings) -> Keys:
    """The configured keys, or a generated one (see the module docstring); FeedbackKeyError if the
    configuration is unusable."""
    if settings.key_file is not None:
        try:
            lines = settings.key_file.read_text().splitlines()
        except OSError as exc:
            raise FeedbackKeyError(
                f"FEEDBACK_KEY_FILE {settings.key_file}: {exc.strerror}"
            ) from None
        keys = [line.strip() for line in lines if line.strip()]
        if not keys:
            raise FeedbackKeyError(f"FEEDBACK_KEY_FILE {settings.key_file} is empty")
        where = f"a key in FEEDBACK_KEY_FILE {settings.key_file}"
        return Keys(tuple(_check(k, where) for k in keys), generated=False)
    if settings.key is not None and settings.key.get_secret_value():
        generated = os.environ.get(GENERATED_MARK) == "1"
        return Keys((_check(settings.key.get_secret_value(), "FEEDBACK_KEY"),), generated)
    if settings.key_required:
        raise FeedbackKeyError(
            "FEEDBACK_KEY_REQUIRED is true but neither FEEDBACK_KEY nor FEEDBACK_KEY_FILE is set"
        )
    return Keys((new_key().encode(),), generated=True)


def generate_for_server() -> None:
    """In `python -m api` before gunicorn forks: one made-up key for every worker, if none is
    configured (and none is required)."""
    if os.environ.get("FEEDBACK_KEY") or os.environ.get("FEEDBACK_KEY_FILE"):
        return
    if os.environ.get("FEEDBACK_KEY_REQUIRED", "").lower() in ("1", "true", "yes", "on"):
        return
    os.environ["FEEDBACK_KEY"] = new_key()
    os.environ[GENERATED_MARK] = "1"


def warn_if_generated(keys: Keys) -> None:
    if keys.generated:
        log.warning(
            "FEEDBACK_KEY is not set: prediction ids are signed with a key made up at start, "
            "valid on this server only until it restarts. Behind a load balancer, give every "
            "replica the same FEEDBACK_KEY or FEEDBACK_KEY_FILE (docs/feedback.md)."
        )
