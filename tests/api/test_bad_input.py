"""Bad input gets a 4xx naming the field: never a 500, never the input echoed back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.api import JSON, ClientFn, TestClient, post_text, record, scrape, value


@pytest.mark.parametrize(
    ("mutate", "field", "problem", "reason"),
    [
        (lambda r: r.pop("mean_area"), "records[0].mean_area", "Field required", "missing_field"),
        (lambda r: r.update(colour=1), "records[0].colour", "Extra inputs", "unknown_field"),
        (lambda r: r.update(mean_area="big"), "records[0].mean_area", "number", "wrong_type"),
        (lambda r: r.update(mean_area=None), "records[0].mean_area", "number", "wrong_type"),
        (lambda r: r.update(mean_area=[1]), "records[0].mean_area", "number", "wrong_type"),
    ],
)
def test_invalid_records(
    client: TestClient, model_dir: Path, mutate: Any, field: str, problem: str, reason: str
) -> None:
    row = record(model_dir)
    mutate(row)
    response = client.post("/predict", json={"records": [row]})
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["msg"].startswith(f"{field}: ") and problem in error["msg"]
    assert "input" not in error
    assert value(scrape(client), "model_input_validation_errors_total", reason=reason) == 1


@pytest.mark.parametrize(
    "token", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1" + "0" * 400]
)
def test_nan_and_infinity_rejected_without_echo(
    client: TestClient, model_dir: Path, token: str
) -> None:
    text = json.dumps({"records": [record(model_dir)]}).replace(
        '"mean_area": ' + json.dumps(record(model_dir)["mean_area"]), f'"mean_area": {token}'
    )
    assert token in text
    response = post_text(client, text)
    assert response.status_code == 422
    assert (
        response.json()["detail"][0]["msg"]
        == "records[0].mean_area: Input should be a finite number"
    )
    assert token not in response.text
    assert value(scrape(client), "model_input_validation_errors_total", reason="not_finite") == 1


@pytest.mark.parametrize(
    "text", ['{"records": [', "", "not json", '{"records": [{"mean_radius": 1,}]}']
)
def test_malformed_json_is_400(client: TestClient, text: str) -> None:
    response = post_text(client, text)
    assert response.status_code == 400
    assert response.json()["detail"].startswith("malformed JSON: ")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"records": []}, "records: List should have at least 1 item"),
        ({}, "records: Field required"),
        ({"records": {"a": 1}}, "records: Input should be a valid array"),
        ([1, 2], "body: Input should be an object"),
    ],
)
def test_wrong_shapes(client: TestClient, body: Any, expected: str) -> None:
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["msg"].startswith(expected)


def test_body_over_limit_is_413(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir, max_body_bytes=2000)
    body = json.dumps({"records": [record(model_dir)] * 3}).encode()
    assert len(body) > 2000
    announced = client.post("/predict", content=body, headers=JSON)
    assert announced.status_code == 413
    assert "MAX_BODY_BYTES" in announced.json()["detail"]

    def chunks() -> Any:  # no Content-Length: counted while streaming
        for i in range(0, len(body), 500):
            yield body[i : i + 500]

    streamed = client.post("/predict", content=chunks(), headers=JSON)
    assert streamed.status_code == 413
    samples = scrape(client)
    assert value(samples, "model_input_validation_errors_total", reason="body_too_large") == 2
    assert value(samples, "http_requests_total", route="/predict", method="POST", status="413") == 2


def test_out_of_range_values_never_500(client: TestClient, model_dir: Path) -> None:
    row = record(model_dir)
    row["mean_area"], row["worst_area"] = 1e308, -1e308
    response = client.post("/predict", json={"records": [row]})
    assert response.status_code in (200, 422)
    assert "NaN" not in response.text and "Infinity" not in response.text


def test_unknown_path_is_one_label(client: TestClient) -> None:
    assert client.get("/nope/1").status_code == 404
    assert client.get("/nope/2").status_code == 404
    samples = scrape(client)
    assert value(samples, "http_requests_total", route="unmatched", method="GET", status="404") == 2
