"""Every Prometheus metric the API exports: the one list that the API, the alert and
recording rules, the Grafana dashboards and docs/serving.md agree on.

A rule or panel that names a metric not listed here is a bug (tests check this).
Names are given without the `_total`/`_bucket`/`_sum`/`_count` suffixes Prometheus adds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # counter | histogram | gauge
    help: str
    labels: tuple[str, ...] = ()


HTTP_REQUESTS = Metric(
    "http_requests",
    "counter",
    "HTTP requests by route, method and status.",
    ("route", "method", "status"),
)
HTTP_DURATION = Metric(
    "http_request_duration_seconds",
    "histogram",
    "HTTP request latency in seconds by route and method.",
    ("route", "method"),
)
HTTP_IN_FLIGHT = Metric("http_requests_in_flight", "gauge", "HTTP requests being served now.")
PREDICTIONS = Metric(
    "model_predictions",
    "counter",
    'Predicted rows by predicted class (regression: class="value").',
    ("class",),
)
PREDICTION_VALUE = Metric(
    "model_prediction_value", "histogram", "Predicted values (regression models only)."
)
CONFIDENCE = Metric(
    "model_prediction_confidence",
    "histogram",
    "Probability of the predicted class (classification models only).",
)
INFERENCE_DURATION = Metric(
    "model_inference_duration_seconds",
    "histogram",
    "Time spent in the model per /predict call (whole batch).",
)
VALIDATION_ERRORS = Metric(
    "model_input_validation_errors", "counter", "Rejected /predict requests by reason.", ("reason",)
)
UNKNOWN_CATEGORIES = Metric(
    "model_unknown_categories",
    "counter",
    "Values of categorical features not seen in training, by feature.",
    ("feature",),
)
MISSING_VALUES = Metric(
    "model_missing_values",
    "counter",
    "Missing (null) feature values received, by feature.",
    ("feature",),
)
MODEL_INFO = Metric(
    "model_info", "gauge", "Always 1; labels name the served model.", ("name", "version", "task")
)
MODEL_LOAD_SECONDS = Metric(
    "model_load_duration_seconds", "gauge", "Seconds it took to load and verify the model."
)
MODEL_LOADED_AT = Metric(
    "model_loaded_timestamp_seconds",
    "gauge",
    "Unix time the model was loaded (model age = time() - this).",
)
FEATURE_BIN = Metric(
    "model_feature_bin",
    "counter",
    "Received feature values per training-reference bin.",
    ("feature", "bin"),
)
FEATURE_REFERENCE = Metric(
    "model_feature_reference_proportion",
    "gauge",
    "Training-split proportion of each feature bin.",
    ("feature", "bin"),
)
PREDICTION_BIN = Metric(
    "model_prediction_bin",
    "counter",
    "Predictions per training-reference bin (class or value bin).",
    ("bin",),
)
PREDICTION_REFERENCE = Metric(
    "model_prediction_reference_proportion",
    "gauge",
    "Training-split proportion of each prediction bin.",
    ("bin",),
)
# -- feedback and capture (api/feedback; docs/feedback.md) -----------------------------------
FEEDBACK_LABELS = Metric(
    "model_feedback_labels",
    "counter",
    "Labels accepted by /feedback, by the model version that served the prediction and outcome "
    "(correct | wrong; regression: scored).",
    ("version", "outcome"),
)
FEEDBACK_ERROR = Metric(
    "model_feedback_absolute_error",
    "histogram",
    "Absolute error |label - prediction| of labelled predictions (regression), by model version.",
    ("version",),
)
FEEDBACK_DELAY = Metric(
    "model_feedback_delay_seconds",
    "histogram",
    "Seconds from a prediction to its label, by model version.",
    ("version",),
)
FEEDBACK_REFUSED = Metric(
    "model_feedback_refused", "counter", "Labels refused by /feedback, by reason.", ("reason",)
)
CAPTURE_ROWS = Metric(
    "model_capture_rows",
    "counter",
    "Rows given to capture, by stream (predictions | labels) and outcome (written | dropped).",
    ("stream", "outcome"),
)
CAPTURE_BUFFERED = Metric(
    "model_capture_buffered_rows", "gauge", "Rows waiting in the capture buffers."
)
CAPTURE_FILES = Metric(
    "model_capture_files", "counter", "Parquet files written by capture, by stream.", ("stream",)
)
CAPTURE_ERRORS = Metric(
    "model_capture_write_errors", "counter", "Failed writes to the capture sink (retried)."
)
# Overload (api/batcher.py, api/middleware.py): shed, dropped, and what is waiting.
REJECTED = Metric(
    "model_requests_rejected",
    "counter",
    "Prediction requests answered 503 + Retry-After because the model's queue was full, by "
    "reason (queue_requests, queue_rows); feedback: /feedback requests shed the same way.",
    ("reason",),
)
EXPIRED = Metric(
    "model_requests_expired",
    "counter",
    "Prediction requests dropped before inference, by reason (deadline: 503 + Retry-After; "
    "disconnected: the client left).",
    ("reason",),
)
QUEUE_REQUESTS = Metric(
    "model_queue_requests", "gauge", "Prediction requests waiting for or in the model thread."
)
QUEUE_ROWS = Metric("model_queue_rows", "gauge", "Parsed rows not yet answered.")

ALL: tuple[Metric, ...] = (
    HTTP_REQUESTS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    PREDICTIONS,
    PREDICTION_VALUE,
    CONFIDENCE,
    INFERENCE_DURATION,
    VALIDATION_ERRORS,
    UNKNOWN_CATEGORIES,
    MISSING_VALUES,
    MODEL_INFO,
    MODEL_LOAD_SECONDS,
    MODEL_LOADED_AT,
    FEATURE_BIN,
    FEATURE_REFERENCE,
    PREDICTION_BIN,
    PREDICTION_REFERENCE,
    FEEDBACK_LABELS,
    FEEDBACK_ERROR,
    FEEDBACK_DELAY,
    FEEDBACK_REFUSED,
    CAPTURE_ROWS,
    CAPTURE_BUFFERED,
    CAPTURE_FILES,
    CAPTURE_ERRORS,
    REJECTED,
    EXPIRED,
    QUEUE_REQUESTS,
    QUEUE_ROWS,
)


def exported_series_names() -> set[str]:
    """Every series name a scrape can contain, suffixes included (for rule/dashboard checks)."""
    names: set[str] = set()
    for m in ALL:
        if m.kind == "counter":
            names |= {f"{m.name}_total", f"{m.name}_created"}
        elif m.kind == "histogram":
            names |= {f"{m.name}_bucket", f"{m.name}_sum", f"{m.name}_count", f"{m.name}_created"}
        else:
            names.add(m.name)
    return names
