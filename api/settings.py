"""Runtime settings, read once from the environment (never from params.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.feedback.settings import CaptureSettings, FeedbackSettings


class Settings(BaseSettings):
    """Every knob of the server; each field is read from the upper-case environment variable."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    model_dir: Path = Field(Path("model"), description="Folder with model_card.json + model file")
    model_version: str | None = Field(None, description="Override the card's version in answers")
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    workers: int = Field(2, ge=1, description="gunicorn worker processes")
    api_key: SecretStr | None = Field(None, description="When set, /predict and /model need it")
    max_batch: int = Field(256, ge=1, description="Most records in one /predict call")
    max_body_bytes: int = Field(1_048_576, ge=1, description="Larger request bodies get 413")
    use_onnx: bool = Field(True, description="False forces the sklearn pipeline (slow path)")
    graceful_timeout: int = Field(30, ge=1, description="Seconds in-flight requests get on SIGTERM")
    timeout: int = Field(60, ge=1, description="gunicorn worker timeout in seconds")
    log_level: str = "info"
    protocol: Literal["v2"] = Field(
        "v2",
        description="The KServe protocol the server speaks next to /predict (KServe reads "
        "PROTOCOL from the predictor's container): the Open Inference Protocol, v2 only",
    )
    otel: bool = Field(
        False, description="FastAPI's OpenTelemetry tracing/metrics/logs (needs an OTel provider)"
    )
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)  # FEEDBACK_*
    capture: CaptureSettings = Field(default_factory=CaptureSettings)  # CAPTURE_*
