"""Runtime settings, read once from the environment (never from params.yaml)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from api.feedback.settings import CaptureSettings, FeedbackSettings

# mlops_template.core.bundle.MAX_MODEL_BYTES (importing it here would load scikit-learn into
# gunicorn's master, which reads these settings; tests/unit/test_facts_agree.py compares them).
MAX_MODEL_BYTES = 1 << 30


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
    max_model_bytes: int = Field(
        MAX_MODEL_BYTES, ge=1, description="Larger model files (or unpacked arrays) are refused"
    )
    # Overload and shutdown (docs/serving.md#overload-and-shutdown)
    max_queue: int = Field(
        64, ge=1, description="Prediction requests in progress; past it 503 + Retry-After"
    )
    max_queue_rows: int = Field(
        32768, ge=1, description="Parsed rows not yet answered; past it 503 + Retry-After"
    )
    max_run_rows: int = Field(8192, ge=1, description="Most rows in one model run (>= MAX_BATCH)")
    deadline_seconds: float = Field(
        10.0, gt=0, description="A request not run by then is dropped (503 + Retry-After)"
    )
    retry_after_seconds: int = Field(1, ge=1, description="Retry-After of a 503 under overload")
    stuck_seconds: float = Field(
        30.0, gt=0, description="/ready is 503 while one model run takes longer than this"
    )
    drain_seconds: float = Field(
        5.0, ge=0, description="After SIGTERM: /ready 503 but still serving, before closing"
    )
    header_timeout: float = Field(
        10.0, gt=0, description="Seconds a client gets to send a request's headers"
    )
    body_timeout: float = Field(10.0, gt=0, description="Seconds a client gets to send a body")
    max_header_bytes: int = Field(
        65536, ge=1024, description="Request line + headers; past it 414/431 and closed"
    )
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)  # FEEDBACK_*
    capture: CaptureSettings = Field(default_factory=CaptureSettings)  # CAPTURE_*

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_run_rows < self.max_batch:
            raise ValueError(f"MAX_RUN_ROWS ({self.max_run_rows}) < MAX_BATCH ({self.max_batch})")
        if self.drain_seconds >= self.graceful_timeout:
            raise ValueError("DRAIN_SECONDS must be shorter than GRACEFUL_TIMEOUT")
        return self
