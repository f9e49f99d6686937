"""Prediction ids on the Open Inference Protocol, in process: the `prediction_id` output says
what its row was served, /feedback scores it (on another app with the same key too), capture
keeps V2 rows as /predict rows, and a model run shared by both protocols keeps each request's
ids with its own rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from api.feedback.ids import Signer
from api.feedback.settings import CaptureSettings
from api.routes.predict import answer_many
from api.state import read_card
from mlops_template.core import capture
from tests.feedback.conftest import KEY
from tests.support.api import ClientFn, TestClient, record, scrape, v2_tensors, value

INFER = "/v2/models/model/infer"
MIXED_ROWS = [
    {"size": 9.5, "color": "red", "flag": True},
    {"size": None, "color": None, "flag": False},
    {"size": 14.0, "color": "violet", "flag": True},
    {"size": 3.0, "color": "blue", "flag": False},
]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)


def infer(client: TestClient, model_dir: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    answer = client.post(INFER, json={"inputs": v2_tensors(model_dir, rows)})
    assert answer.status_code == 200, answer.text
    return {o["name"]: o["data"] for o in answer.json()["outputs"]}


def test_v2_ids_are_scored_by_feedback_on_any_replica(
    client_for: ClientFn, mixed_dir: Path
) -> None:
    first, second = client_for(mixed_dir), client_for(mixed_dir)
    card = read_card(mixed_dir)
    served = infer(first, mixed_dir, MIXED_ROWS)
    ids, labels = served["prediction_id"], served["label"]
    assert len(set(ids)) == len(MIXED_ROWS)
    wrong = next(c for c in card.classes if c != labels[0])
    items = [{"id": ids[0], "label": wrong}] + [
        {"id": i, "label": label} for i, label in zip(ids[1:], labels[1:])
    ]
    answer = second.post("/feedback", json={"feedback": items})
    assert answer.json() == {"accepted": len(items), "refused": []}
    samples = scrape(second)
    labelled = "model_feedback_labels_total"
    assert value(samples, labelled, version=card.version, outcome="wrong") == 1
    assert value(samples, labelled, version=card.version, outcome="correct") == len(ids) - 1
    again = second.post("/feedback", json={"feedback": items[:1]}).json()
    assert [r["reason"] for r in again["refused"]] == ["duplicate"]


def test_regression_v2_ids_feed_the_absolute_error(
    client_for: ClientFn, regression_dir: Path
) -> None:
    client, card = client_for(regression_dir), read_card(regression_dir)
    served = infer(client, regression_dir, [record(regression_dir)] * 2)
    items = [{"id": i, "label": v + 10.0} for i, v in zip(served["prediction_id"], served["value"])]
    assert client.post("/feedback", json={"feedback": items}).json()["accepted"] == 2
    samples = scrape(client)
    errors = "model_feedback_absolute_error_sum"
    assert value(samples, errors, version=card.version) == pytest.approx(20.0)


def test_v2_rows_are_captured_as_predict_rows_are(
    client_for: ClientFn, mixed_dir: Path, tmp_path: Path
) -> None:
    url = str(tmp_path / "cap")
    client = client_for(mixed_dir, capture=CaptureSettings(enabled=True, url=url))
    v2 = infer(client, mixed_dir, MIXED_ROWS)
    predicted = client.post("/predict", json={"records": MIXED_ROWS}).json()["predictions"]
    client.__exit__(None, None, None)  # flushes the capture
    frame = capture.read(url, capture.PREDICTIONS)
    assert frame[capture.ID].tolist() == v2["prediction_id"] + [p["id"] for p in predicted]
    assert frame[capture.PREDICTION].tolist() == v2["label"] * 2
    half = frame.head(len(MIXED_ROWS))
    assert half["color"][[0, 2, 3]].tolist() == ["red", "violet", "blue"]
    assert half["color"].isna().tolist() == [False, True, False, False]
    assert half["flag"].tolist() == [r["flag"] for r in MIXED_ROWS]


def test_one_model_run_for_both_protocols_keeps_each_requests_ids(
    client_for: ClientFn, mixed_dir: Path
) -> None:
    """What the batcher does under load: /predict and V2 requests answered by one model run;
    every id says its own row's prediction."""
    import orjson

    client = client_for(mixed_dir)
    state = client.app.state
    batcher, v2_codec = state.batcher, state.v2_codec
    predict_body = orjson.dumps({"records": MIXED_ROWS[:3]})
    v2_body = orjson.dumps({"inputs": v2_tensors(mixed_dir, MIXED_ROWS[1:])})
    requests = [
        batcher.predict.read(predict_body),
        v2_codec.read(v2_body),
        batcher.predict.read(predict_body),
    ]
    answers = answer_many(requests, batcher.model, batcher.telemetry, batcher.ledger)
    card = read_card(mixed_dir)
    signer = Signer([KEY.encode()], card.version, card.classes)
    first, third = orjson.loads(answers[0]), orjson.loads(answers[2])
    v2 = {o["name"]: o["data"] for o in orjson.loads(answers[1])["outputs"]}
    pairs = [(p["id"], p["prediction"]) for p in first["predictions"] + third["predictions"]]
    pairs += list(zip(v2["prediction_id"], v2["label"]))
    assert len({i for i, _ in pairs}) == 9
    assert [signer.read(i).label for i, _ in pairs] == [label for _, label in pairs]
    # The same rows in both protocols got the same predictions.
    assert [p["prediction"] for p in first["predictions"][1:]] == v2["label"][:2]
