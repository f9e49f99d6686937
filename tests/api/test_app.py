"""Every endpoint, the API key and the settings, in process with TestClient (single-process
metrics)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from api.telemetry import names as metric_names
from tests.support.api import ClientFn, TestClient, example, record, scrape, value

# -- endpoints -------------------------------------------------------------------------------


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/health").json()["status"] == "ok"
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True
    assert ready.json()["backend"] == "numpy"  # default model is linear: no ONNX needed


def test_model_card(client: TestClient, model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    body = client.get("/model").json()
    assert body["version"] == card["version"]
    assert body["features"] == card["features"]
    assert body["metrics"] == card["metrics"] and body["params"] == card["params"]


def test_openapi_example_works_as_is(client: TestClient, model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    schema = client.get("/openapi.json").json()
    record_schema = schema["components"]["schemas"]["Record"]
    assert list(record_schema["properties"]) == [f["name"] for f in card["features"]]
    assert record_schema["properties"]["mean_radius"]["type"] == "number"
    response = client.post("/predict", json=example(model_dir))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == card["version"]
    [prediction] = body["predictions"]
    assert prediction["prediction"] in card["classes"]
    assert sum(prediction["probabilities"].values()) == pytest.approx(1.0)
    assert set(prediction["probabilities"]) == set(card["classes"])


def test_docs_page(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()
    assert "/predict" in client.get("/openapi.json").json()["paths"]


def test_batch_up_to_max(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, max_batch=5)
    row = record(model_dir)
    assert len(client.post("/predict", json={"records": [row] * 5}).json()["predictions"]) == 5
    too_many = client.post("/predict", json={"records": [row] * 6})
    assert too_many.status_code == 422
    assert "records" in too_many.json()["detail"][0]["msg"]
    assert "at most 5" in too_many.json()["detail"][0]["msg"]


def test_metrics_exports_every_listed_metric(client: TestClient, model_dir: Path) -> None:
    client.post("/predict", json=example(model_dir))
    kinds = {f.name: f.type for f in text_string_to_metric_families(client.get("/metrics").text)}
    for metric in metric_names.ALL:
        assert kinds.get(metric.name) == metric.kind, metric.name


def test_metrics_count_requests_predictions_and_bins(client: TestClient, model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    body = {"records": [record(model_dir)] * 3}
    classes = [client.post("/predict", json=body).json()["predictions"][0]["prediction"]]
    samples = scrape(client)
    assert value(samples, "http_requests_total", route="/predict", method="POST", status="200") == 1
    assert value(samples, "model_predictions_total", **{"class": classes[0]}) == 3
    assert value(samples, "model_prediction_confidence_count") == 3
    assert value(samples, "model_inference_duration_seconds_count") == 1
    for feature in card["features"]:
        ref = card["drift_reference"]["features"][feature["name"]]
        counts = [
            value(samples, "model_feature_bin_total", feature=feature["name"], bin=str(b))
            for b in range(len(ref["proportions"]))
        ]
        assert sum(counts) == 3
        shares = [
            value(
                samples, "model_feature_reference_proportion", feature=feature["name"], bin=str(b)
            )
            for b in range(len(ref["proportions"]))
        ]
        assert shares == ref["proportions"]
    index = card["classes"].index(classes[0])
    assert value(samples, "model_prediction_bin_total", bin=str(index)) == 3
    info = value(
        samples, "model_info", name="model", version=card["version"], task="classification"
    )
    assert info == 1
    assert value(samples, "model_load_duration_seconds") > 0


def test_numeric_bins_follow_drift_bin_index(client: TestClient, model_dir: Path) -> None:
    """A value equal to an edge falls in the bin left of it, like drift.bin_index."""
    card = json.loads((model_dir / "model_card.json").read_text())
    edges = card["drift_reference"]["features"]["mean_radius"]["edges"]
    row = record(model_dir)
    row["mean_radius"] = edges[2]
    client.post("/predict", json={"records": [row, row]})
    row["mean_radius"] = edges[-1] + 1000
    client.post("/predict", json={"records": [row]})
    samples = scrape(client)
    assert value(samples, "model_feature_bin_total", feature="mean_radius", bin="2") == 2
    last = str(len(edges))
    assert value(samples, "model_feature_bin_total", feature="mean_radius", bin=last) == 1


# -- API key -----------------------------------------------------------------------------


def test_api_key(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, api_key="s3cret")
    body = example(model_dir)
    assert client.post("/predict", json=body).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.post("/predict", json=body, headers={"X-API-Key": "s3cret"}).status_code == 200
    assert client.get("/model").status_code == 401
    assert client.get("/model", headers={"X-API-Key": "s3cret"}).status_code == 200
    for open_path in ("/health", "/ready", "/metrics"):
        assert client.get(open_path).status_code == 200


def test_no_api_key_by_default(client: TestClient, model_dir: Path) -> None:
    assert client.post("/predict", json=example(model_dir)).status_code == 200


# -- settings --------------------------------------------------------------------------------


def test_model_version_override(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, model_version="v9-canary")
    assert client.post("/predict", json=example(model_dir)).json()["model_version"] == "v9-canary"
    assert client.get("/model").json()["version"] == "v9-canary"
    samples = scrape(client)
    assert value(samples, "model_info", name="model", version="v9-canary", task="classification")


def test_sklearn_fallback_gives_same_answers(client_for: ClientFn, model_dir: Path) -> None:
    fast = client_for(model_dir)
    slow = client_for(model_dir, use_onnx=False)
    assert slow.get("/ready").json()["backend"] == "sklearn"
    body = {"records": [record(model_dir)] * 4}
    a = fast.post("/predict", json=body).json()["predictions"]
    b = slow.post("/predict", json=body).json()["predictions"]
    assert [p["prediction"] for p in a] == [p["prediction"] for p in b]
    for p, q in zip(a, b):
        for cls, prob in p["probabilities"].items():
            assert prob == pytest.approx(q["probabilities"][cls], abs=1e-5)
