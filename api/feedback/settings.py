"""Settings of prediction ids, /feedback and capture (environment variables FEEDBACK_* and
CAPTURE_*), part of `api.settings.Settings`. docs/feedback.md lists them."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

MIN_KEY_CHARS = 32


def names(text: str) -> tuple[str, ...]:
    """`"a, b"` → `("a", "b")`."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


class FeedbackSettings(BaseSettings):
    """FEEDBACK_*: the key that signs prediction ids, and how labels are accepted."""

    model_config = SettingsConfigDict(env_prefix="FEEDBACK_", case_sensitive=False, extra="ignore")

    key: SecretStr | None = Field(
        None, description="Signs prediction ids; the same on every replica (>= 32 characters)"
    )
    key_file: Path | None = Field(
        None,
        description="File with the key (first line signs; every line verifies: key rotation)",
    )
    key_required: bool = Field(
        False, description="true: no key is a start error (/ready 503), not a generated key"
    )
    max_age_days: float = Field(90.0, gt=0, description="Older ids are refused (expired_id)")
    remember: int = Field(
        1_000_000, ge=0, description="Labelled ids remembered per process to refuse duplicates"
    )


class CaptureSettings(BaseSettings):
    """CAPTURE_*: opt-in capture of served rows, predictions and labels as Parquet files."""

    model_config = SettingsConfigDict(env_prefix="CAPTURE_", case_sensitive=False, extra="ignore")

    enabled: bool = Field(False, description="Write served rows and labels to CAPTURE_URL")
    url: str = Field("capture", description="A folder or any fsspec URL (s3://bucket/prefix)")
    sample: float = Field(1.0, ge=0, le=1, description="Share of predicted rows captured")
    drop_columns: str = Field("", description="Comma-separated features never written")
    hash_columns: str = Field("", description="Comma-separated features written as a keyed hash")
    buffer_rows: int = Field(100_000, ge=1, description="Rows held in memory; past it: dropped")
    file_rows: int = Field(50_000, ge=1, description="A file is closed at this many rows…")
    file_seconds: float = Field(60.0, gt=0, description="…or when its first row is this old")
    retention_days: float = Field(
        30.0, ge=0, description="Files older than this are deleted (0 = keep)"
    )
    flush_seconds: float = Field(
        20.0, gt=0, description="At shutdown, how long to keep retrying a failing sink"
    )

    @property
    def dropped(self) -> tuple[str, ...]:
        return names(self.drop_columns)

    @property
    def hashed(self) -> tuple[str, ...]:
        return names(self.hash_columns)
