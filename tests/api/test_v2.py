"""The Open Inference Protocol endpoints in-process: what they answer, the same predictions and
metrics as /predict for the same rows, and the protocol's `{"error": …}` for every refusal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.support.api import JSON, ClientFn, TestClient, scrape, v2_tensors, value
from tests.support.api import record as valid_record

from api.inference import probe_rows
from api.state import read_card

INFER = "/v2/models/model/infer"


def infer(client: TestClient, records: list[dict[str, Any]], **extra: Any) -> Any:
    return client.post(
        INFER, json={"inputs": v2_tensors(client.app.state.settings.model_dir, records), **extra}
    )


def test_health_ready_and_server_metadata(client: TestClient) -> None:
    assert client.get("/v2/health/live").json() == {"live": True}
    assert client.get("/v2/health/ready").json() == {"ready": True}
    assert client.get("/v2/models/model/ready").json() == {"name": "model", "ready": True}
    server = client.get("/v2").json()
    assert server["name"] == "mlops-template" and server["extensions"] == []


def test_model_metadata_lists_every_feature_and_the_outputs(
    client_for: ClientFn, mixed_dir: Path, regression_dir: Path, multiclass_dir: Path
) -> None:
    mixed = client_for(mixed_dir).get("/v2/models/model").json()
    card = read_card(mixed_dir)
    assert mixed["name"] == "model" and mixed["versions"] == [card.version]
    assert mixed["inputs"] == [
        {"name": "size", "datatype": "FP64", "shape": [-1]},
        {"name": "color", "datatype": "BYTES", "shape": [-1]},
        {"name": "flag", "datatype": "BOOL", "shape": [-1]},
    ]
    assert mixed["outputs"] == [
        {"name": "label", "datatype": "BYTES", "shape": [-1]},
        {"name": "probabilities", "datatype": "FP64", "shape": [-1, 2]},
        {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]},
    ]
    assert json.loads(mixed["parameters"]["classes"]) == card.classes
    assert json.loads(mixed["parameters"]["nullable_inputs"]) == ["size", "color"]
    regression = client_for(regression_dir).get("/v2/models/model").json()
    assert regression["outputs"] == [
        {"name": "value", "datatype": "FP64", "shape": [-1]},
        {"name": "prediction_id", "datatype": "BYTES", "shape": [-1]},
    ]
    multiclass = (
        client_for(multiclass_dir)
        .get("/v2/models/model/versions/" + read_card(multiclass_dir).version)
        .json()
    )
    assert multiclass["outputs"][1]["shape"] == [-1, 3]


def records_of(model_dir: Path) -> list[dict[str, Any]]:
    """The test split with missing values, and probe rows (every bin, category, unknown, null)."""
    card = read_card(model_dir)
    names = [f.name for f in card.features]
    rows = [dict(zip(names, r)) for r in probe_rows(card.features, card.drift_reference)]
    test = model_dir.parent / "data" / "processed" / "test.parquet"
    frame = pd.read_parquet(test)[names].astype(object)
    frame = frame.where(frame.notna(), None)
    for row in frame.itertuples(index=False):
        rows.append(
            {
                n: (bool(v) if f.kind == "boolean" else v)
                for n, v, f in zip(names, row, card.features)
            }
        )
    return rows


@pytest.mark.parametrize("bundle", ["mixed_dir", "regression_dir", "multiclass_dir"])
def test_same_predictions_as_predict(
    bundle: str, client_for: ClientFn, request: pytest.FixtureRequest
) -> None:
    """Every row of the test split and the probe rows, in batches: same classes and
    probabilities (or values) from /v2/…/infer as from /predict."""
    model_dir = request.getfixturevalue(bundle)
    client, card = client_for(model_dir), read_card(model_dir)
    rows = records_of(model_dir)
    assert any(v is None for r in rows for v in r.values()) or bundle != "mixed_dir"
    for start in range(0, len(rows), 100):
        batch = rows[start : start + 100]
        predicted = client.post("/predict", json={"records": batch}).json()["predictions"]
        answer = infer(client, batch, id=str(start))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["id"] == str(start) and body["model_version"] == card.version
        outputs = {o["name"]: o for o in body["outputs"]}
        ids = outputs["prediction_id"]
        assert ids["datatype"] == "BYTES" and ids["shape"] == [len(batch)]
        assert len(set(ids["data"])) == len(batch)  # one fresh id a row, as /predict's
        assert not set(ids["data"]) & {p["id"] for p in predicted}
        if card.task == "classification":
            assert outputs["label"]["data"] == [p["prediction"] for p in predicted]
            probabilities = outputs["probabilities"]
            assert probabilities["shape"] == [len(batch), len(card.classes)]
            expected = [p["probabilities"][c] for p in predicted for c in card.classes]
            assert probabilities["data"] == pytest.approx(expected, abs=1e-12)
        else:
            assert outputs["value"]["data"] == pytest.approx(
                [p["prediction"] for p in predicted], rel=1e-12
            )


def model_samples(client: TestClient) -> dict[Any, float]:
    """The model_* series (drift bins, missing, unknown, predictions), without timings."""
    return {
        k: v
        for k, v in scrape(client).items()
        if k[0].startswith("model_")
        and not k[0].startswith(("model_inference_duration", "model_load", "model_loaded"))
        and not k[0].endswith("_created")
    }


def test_same_drift_and_prediction_metrics_as_predict(
    client_for: ClientFn, mixed_dir: Path
) -> None:
    rows = records_of(mixed_dir)[:150]
    predict, v2 = client_for(mixed_dir), client_for(mixed_dir)
    assert predict.post("/predict", json={"records": rows[:100]}).status_code == 200
    assert predict.post("/predict", json={"records": rows[100:]}).status_code == 200
    assert infer(v2, rows[:100]).status_code == 200
    assert infer(v2, rows[100:]).status_code == 200
    expected, got = model_samples(predict), model_samples(v2)
    assert value(got, "model_missing_values_total", feature="size") > 0
    assert got == expected
    route = "/v2/models/{name}/infer"
    assert value(scrape(v2), "http_requests_total", route=route, method="POST", status="200") == 2


def test_refusals_are_the_protocols_errors_and_counted(client: TestClient, model_dir: Path) -> None:
    inputs = v2_tensors(model_dir, [{}])
    inputs[0]["data"] = ["not a number"]
    bad = client.post(INFER, json={"inputs": inputs})
    assert bad.status_code == 400
    assert bad.json() == {"error": "input 'mean_radius': value 0 is a string; expected numbers"}
    assert client.post(INFER, content=b"{").status_code == 400
    too_many = client.post(INFER, json={"inputs": v2_tensors(model_dir, [{}] * 257)})
    assert too_many.status_code == 400 and "MAX_BATCH" in too_many.json()["error"]
    samples = scrape(client)
    for reason in ("wrong_type", "malformed_json", "batch_size"):
        assert value(samples, "model_input_validation_errors_total", reason=reason) == 1


def test_unknown_models_versions_paths_and_methods(client: TestClient, model_dir: Path) -> None:
    version = read_card(model_dir).version
    for path in ("/v2/models/other", "/v2/models/other/ready", "/v2/models/model/versions/0"):
        answer = client.get(path)
        assert answer.status_code == 404 and "error" in answer.json(), path
    assert client.post("/v2/models/other/infer", json={}).status_code == 404
    assert client.get(f"/v2/models/model/versions/{version}/ready").json()["ready"] is True
    assert client.get("/v2/models/model/nothing").json() == {"error": "Not Found"}
    assert client.get(INFER).json() == {"error": "Method Not Allowed"}
    assert client.get("/nothing").json() == {"detail": "Not Found"}  # outside /v2: FastAPI's
    samples = scrape(client)
    assert (
        value(samples, "http_requests_total", route="/v2/models/{name}", method="GET", status="404")
        == 1
    )


def test_versioned_infer_and_the_single_tensor_form(client: TestClient, model_dir: Path) -> None:
    card = read_card(model_dir)
    record = {f.name: (f.minimum or 0.0) for f in card.features}
    per_feature = infer(client, [record]).json()["outputs"]
    matrix = {
        "name": "x",
        "shape": [1, len(record)],
        "datatype": "FP64",
        "data": [list(record.values())],
    }
    answer = client.post(
        f"/v2/models/model/versions/{card.version}/infer", json={"inputs": [matrix]}
    )
    assert answer.status_code == 200
    assert answer.json()["outputs"][:-1] == per_feature[:-1]  # the last: fresh prediction ids


def test_api_key_guards_metadata_and_infer_only(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, api_key="v2-key")  # pragma: allowlist secret
    for path in ("/v2/health/live", "/v2/health/ready", "/v2/models/model/ready", "/v2"):
        assert client.get(path).status_code == 200, path
    assert client.get("/v2/models/model").json() == {"error": "missing or wrong X-API-Key header"}
    refused = infer(client, [{}])
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "ApiKey"
    key = {"X-API-Key": "v2-key"}  # pragma: allowlist secret
    assert client.get("/v2/models/model", headers=key).status_code == 200
    body = {"inputs": v2_tensors(model_dir, [{f.name: 1.0 for f in read_card(model_dir).features}])}
    assert client.post(INFER, json=body, headers=key).status_code == 200


def test_body_limit_is_413_in_the_protocols_shape(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, max_body_bytes=100)
    body = json.dumps({"inputs": v2_tensors(model_dir, [{}])}).encode()
    announced = client.post(INFER, content=body)
    assert announced.status_code == 413 and "MAX_BODY_BYTES" in announced.json()["error"]
    streamed = client.post(INFER, content=iter([body[:60], body[60:]]))
    assert streamed.status_code == 413 and "MAX_BODY_BYTES" in streamed.json()["error"]
    versioned = client.post(INFER.replace("/infer", "/versions/v/infer"), content=body)
    assert versioned.status_code == 413
    samples = scrape(client)
    assert value(samples, "model_input_validation_errors_total", reason="body_too_large") == 3
    # Counted under the infer routes (the rejection ratio's denominator), not as "unmatched":
    # the 413 comes before routing.
    template = "/v2/models/{name}/infer"
    assert value(samples, "http_requests_total", route=template, method="POST", status="413") == 2
    versions = "/v2/models/{name}/versions/{version}/infer"
    assert value(samples, "http_requests_total", route=versions, method="POST", status="413") == 1
    assert (
        value(samples, "http_requests_total", route="unmatched", method="POST", status="413") == 0
    )


def test_binary_tensor_data_is_refused_with_the_way_out(client: TestClient) -> None:
    header = {"Inference-Header-Content-Length": "20"}
    answer = client.post(INFER, content=b'{"inputs": []}' + b"\x00" * 16, headers=header)
    assert answer.status_code == 400 and "binary_data=False" in answer.json()["error"]


@pytest.mark.parametrize(
    ("declared", "words"),
    [
        ("99999999", "(99999999) is larger than the body"),
        ("9" * 40, "must be the byte length of the JSON part"),
        ("-5", "must be the byte length of the JSON part"),
        ("abc", "must be the byte length of the JSON part"),
        ("10", "binary_data=False"),  # binary data would follow the first 10 bytes
        ("0", "binary_data=False"),
    ],
)
def test_a_binary_header_that_is_not_the_bodys_length_is_refused(
    client: TestClient, model_dir: Path, declared: str, words: str
) -> None:
    """Before: a valid JSON body was answered whatever the header claimed (larger than the
    body, negative, not a number), as if the client had sent no binary data."""
    body = json.dumps({"inputs": v2_tensors(model_dir, [valid_record(model_dir)])}).encode()
    header = {"Inference-Header-Content-Length": declared, **JSON}
    answer = client.post(INFER, content=body, headers=header)
    assert answer.status_code == 400, answer.text
    assert words in answer.json()["error"]
    exact = {"Inference-Header-Content-Length": str(len(body)), **JSON}
    assert client.post(INFER, content=body, headers=exact).status_code == 200


def test_extreme_values_are_refused_like_predict(client: TestClient, model_dir: Path) -> None:
    record = {f.name: 1.0 for f in read_card(model_dir).features}
    record["mean_area"], record["worst_area"] = 1e308, -1e308
    predict = client.post("/predict", json={"records": [record]})
    v2 = infer(client, [record])
    assert (predict.status_code, v2.status_code) in ((200, 200), (422, 400))
    assert "NaN" not in v2.text and "Infinity" not in v2.text


def test_a_model_that_did_not_load(client_for: ClientFn, tampered_dir: Path) -> None:
    client = client_for(tampered_dir)
    assert client.get("/v2/health/live").status_code == 200
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 400 and "sha256" in ready.json()["error"]
    model_ready = client.get("/v2/models/model/ready")
    assert model_ready.status_code == 400 and model_ready.json()["ready"] is False
    answer = infer(client, [{}])
    assert answer.status_code == 503 and "sha256" in answer.json()["error"]


def test_the_kserve_predictor_gets_what_its_manifest_says(client: TestClient) -> None:
    """deploy/kserve: PROTOCOL=v2 is a setting this server takes (and v1 one it refuses), and
    the probes' paths answer on the port that serves /v2."""
    import yaml
    from pydantic import ValidationError

    from api.settings import Settings
    from tests.support.shell import ROOT

    service = yaml.safe_load((ROOT / "deploy" / "kserve" / "inferenceservice.yaml").read_text())
    (container,) = service["spec"]["predictor"]["containers"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert Settings(protocol=env["PROTOCOL"]).protocol == "v2"
    with pytest.raises(ValidationError, match="protocol"):
        Settings(protocol="v1")
    assert [p["containerPort"] for p in container["ports"]] == [int(env["PORT"])]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] == int(env["PORT"])
        assert client.get(container[probe]["httpGet"]["path"]).status_code == 200


def test_infer_shares_the_queue_limits_and_answers_in_the_protocols_shape(
    client_for: ClientFn, model_dir: Path
) -> None:
    """A full queue sheds V2 infer calls too (503 + Retry-After, `{"error": …}`, before the body
    is read), and a draining server's V2 readiness is false like /ready."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    client = client_for(model_dir, max_queue=1)
    batcher = client.app.state.batcher  # type: ignore[attr-defined]
    gate = threading.Event()
    batcher.executor.submit(gate.wait)  # the model thread is busy
    rows = records_of(model_dir)[:1]
    with ThreadPoolExecutor(1) as pool:
        try:
            first = pool.submit(infer, client, rows)
            while batcher.depth()[0] < 1:
                threading.Event().wait(0.01)
            shed = infer(client, rows)
        finally:
            gate.set()
        assert first.result(10).status_code == 200
    assert shed.status_code == 503, shed.text
    assert shed.headers["retry-after"] == "1"
    assert "overloaded" in shed.json()["error"]
    samples = scrape(client)
    assert value(samples, "model_requests_rejected_total", reason="queue_requests") == 1
    route = "/v2/models/{name}/infer"  # shed before routing, still counted under its route
    assert value(samples, "http_requests_total", route=route, method="POST", status="503") == 1
    client.app.state.lifecycle.drain()  # type: ignore[attr-defined]
    ready = client.get("/v2/health/ready")
    assert ready.status_code == 400 and "draining" in ready.json()["error"]
