"""POST /feedback in process: scoring against the id, refusals per item, metrics, limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from api.feedback.ids import Signer
from tests.feedback.conftest import KEY
from tests.support.api import ClientFn, TestClient, record, scrape, value


def predict(client: TestClient, model_dir: Path, n: int = 3) -> list[dict[str, Any]]:
    answer = client.post("/predict", json={"records": [record(model_dir)] * n})
    assert answer.status_code == 200, answer.text
    predictions: list[dict[str, Any]] = answer.json()["predictions"]
    return predictions


def other(label: str) -> str:
    return "malignant" if label == "benign" else "benign"


@pytest.fixture
def keyed(client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    return client_for(model_dir)


def test_every_prediction_has_a_distinct_id(keyed: TestClient, model_dir: Path) -> None:
    predictions = predict(keyed, model_dir, 50)
    assert len({p["id"] for p in predictions}) == 50


def test_labels_are_scored_against_what_was_served(keyed: TestClient, model_dir: Path) -> None:
    served = predict(keyed, model_dir, 5)
    version = keyed.get("/model").json()["version"]
    items = [{"id": p["id"], "label": p["prediction"]} for p in served[:3]]
    items += [{"id": p["id"], "label": other(p["prediction"])} for p in served[3:]]
    answer = keyed.post("/feedback", json={"feedback": items})
    assert answer.status_code == 200
    assert answer.json() == {"accepted": 5, "refused": []}
    samples = scrape(keyed)
    labels = "model_feedback_labels_total"
    assert value(samples, labels, version=version, outcome="correct") == 3
    assert value(samples, labels, version=version, outcome="wrong") == 2
    assert value(samples, "model_feedback_delay_seconds_count", version=version) == 5


def test_a_second_process_with_the_same_key_scores_the_label(
    client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two apps stand for two replicas: the label goes to the one that didn't answer."""
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    first, second = client_for(model_dir), client_for(model_dir)
    served = predict(first, model_dir, 2)
    items = [{"id": p["id"], "label": p["prediction"]} for p in served]
    assert second.post("/feedback", json={"feedback": items}).json()["accepted"] == 2
    version = second.get("/model").json()["version"]
    labels = "model_feedback_labels_total"
    assert value(scrape(second), labels, version=version, outcome="correct") == 2


def test_without_a_key_each_server_makes_its_own_and_refuses_the_others(
    client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDBACK_KEY", raising=False)
    first, second = client_for(model_dir), client_for(model_dir)
    served = predict(first, model_dir, 1)
    item = {"id": served[0]["id"], "label": served[0]["prediction"]}
    assert first.post("/feedback", json={"feedback": [item]}).json()["accepted"] == 1
    refused = second.post("/feedback", json={"feedback": [item]}).json()["refused"]
    assert [r["reason"] for r in refused] == ["bad_signature"]


def test_each_bad_item_is_refused_with_its_reason(keyed: TestClient, model_dir: Path) -> None:
    served = predict(keyed, model_dir, 3)
    good = served[0]["id"]
    forged = Signer([b"x" * 32], "v", ["benign", "malignant"]).issue(np.array([0]), None)
    items: list[Any] = [
        {"id": good, "label": served[0]["prediction"]},
        {"id": good, "label": served[0]["prediction"]},  # again
        {"id": served[1]["id"], "label": "cat"},
        {"id": served[1]["id"], "label": 3.5},
        {"id": forged[0], "label": "benign"},
        {"id": "not-an-id", "label": "benign"},
        {"id": served[2]["id"], "label": None},
        {"id": served[2]["id"], "label": ["benign"]},
    ]
    answer = keyed.post("/feedback", json={"feedback": items})
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 1
    reasons = {r["index"]: r["reason"] for r in body["refused"]}
    assert reasons == {
        1: "duplicate",
        2: "unknown_class",
        3: "wrong_label_type",
        4: "bad_signature",
        5: "malformed_id",
        6: "wrong_label_type",
        7: "wrong_label_type",
    }
    assert all(r["detail"] for r in body["refused"])
    refused = scrape(keyed)
    assert value(refused, "model_feedback_refused_total", reason="wrong_label_type") == 3


@pytest.mark.parametrize(
    "item",
    [{"id": "x"}, "just a string", {"id": "x", "label": "a", "extra": 1}, {"id": 5, "label": "a"}],
)
def test_an_item_of_the_wrong_shape_is_a_422_naming_it(keyed: TestClient, item: Any) -> None:
    good = {"id": "x", "label": "a"}
    answer = keyed.post("/feedback", json={"feedback": [good, item]})
    assert answer.status_code == 422
    assert answer.json()["detail"][0]["loc"] == ["body", "feedback", 1]
    assert "feedback[1]" in answer.json()["detail"][0]["msg"]


def test_integer_labels_match_integer_like_classes_only(keyed: TestClient, model_dir: Path) -> None:
    served = predict(keyed, model_dir, 1)
    body = keyed.post("/feedback", json={"feedback": [{"id": served[0]["id"], "label": 1}]})
    assert [r["reason"] for r in body.json()["refused"]] == ["unknown_class"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{", 400),
        (b"[]", 422),
        (b'{"feedback": {}}', 422),
        (b'{"feedback": []}', 422),
        (b'{"labels": []}', 422),
        (b'{"feedback": [], "x": 1}', 422),
    ],
)
def test_a_body_that_is_no_feedback_list_is_a_client_error(
    keyed: TestClient, body: bytes, status: int
) -> None:
    answer = keyed.post("/feedback", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == status, answer.text
    assert "detail" in answer.json()


def test_the_limits_of_predict_apply(
    client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    client = client_for(model_dir, max_batch=4, max_body_bytes=6000)
    served = predict(client, model_dir, 4)
    items = [{"id": p["id"], "label": p["prediction"]} for p in served]
    assert client.post("/feedback", json={"feedback": items}).json()["accepted"] == 4
    too_many = client.post("/feedback", json={"feedback": items + items[:1]})
    assert too_many.status_code == 422 and "MAX_BATCH" in too_many.text
    huge = client.post("/feedback", json={"feedback": [{"id": "x" * 7000, "label": "a"}]})
    assert huge.status_code == 413


def test_the_api_key_guards_feedback(
    client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    client = client_for(model_dir, api_key="secret-api-key")  # pragma: allowlist secret
    headers = {"X-API-Key": "secret-api-key"}  # pragma: allowlist secret
    served = client.post("/predict", json={"records": [record(model_dir)]}, headers=headers)
    item = {"id": served.json()["predictions"][0]["id"], "label": "benign"}
    assert client.post("/feedback", json={"feedback": [item]}).status_code == 401
    answer = client.post("/feedback", json={"feedback": [item]}, headers=headers)
    assert answer.status_code == 200 and answer.json()["accepted"] == 1


def test_regression_labels_feed_the_absolute_error(
    client_for: ClientFn, regression_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    client = client_for(regression_dir)
    served = predict(client, regression_dir, 2)
    items = [
        {"id": served[0]["id"], "label": served[0]["prediction"] + 10},
        {"id": served[1]["id"], "label": served[1]["prediction"] - 30},
        {"id": served[1]["id"], "label": "high"},
    ]
    body = client.post("/feedback", json={"feedback": items}).json()
    assert body["accepted"] == 2
    assert [r["reason"] for r in body["refused"]] == ["wrong_label_type"]
    version = client.get("/model").json()["version"]
    samples = scrape(client)
    error = "model_feedback_absolute_error"
    assert value(samples, f"{error}_count", version=version) == 2
    assert value(samples, f"{error}_sum", version=version) == pytest.approx(40)
    assert value(samples, "model_feedback_labels_total", version=version, outcome="scored") == 2


def test_a_required_key_that_is_missing_keeps_the_server_unready(
    client_for: ClientFn, model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FEEDBACK_KEY", raising=False)
    monkeypatch.setenv("FEEDBACK_KEY_REQUIRED", "true")
    client = client_for(model_dir)
    ready = client.get("/ready")
    assert ready.status_code == 503 and "FEEDBACK_KEY" in ready.json()["reason"]
    assert client.post("/predict", json={"records": [record(model_dir)]}).status_code == 503


@pytest.mark.parametrize("content", ["short", ""])
def test_a_bad_key_file_keeps_the_server_unready(
    client_for: ClientFn,
    model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    content: str,
) -> None:
    key_file = tmp_path / "key"
    key_file.write_text(content)
    monkeypatch.setenv("FEEDBACK_KEY_FILE", str(key_file))
    ready = client_for(model_dir).get("/ready")
    assert ready.status_code == 503 and "FEEDBACK_KEY_FILE" in ready.json()["reason"]
    assert KEY not in ready.text
