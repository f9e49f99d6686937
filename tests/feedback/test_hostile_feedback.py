"""/feedback as someone feeding it bad labels would: ids of another model sharing the key,
truncated ids, labels that would break the error metric, NaN. Every item is refused with
its reason (never scored), every body a 4xx, and the quality metrics stay untouched."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.feedback.conftest import KEY
from tests.support.api import JSON, ClientFn, TestClient, record, scrape, value

MIXED = {"size": 9.5, "color": "red", "flag": True}


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)


def served(client: TestClient, row: dict[str, Any]) -> dict[str, Any]:
    answer = client.post("/predict", json={"records": [row]})
    assert answer.status_code == 200, answer.text
    prediction: dict[str, Any] = answer.json()["predictions"][0]
    return prediction


def scored(client: TestClient) -> float:
    """Labels this app scored, whatever the version and outcome."""
    samples = scrape(client)
    return sum(v for (name, _), v in samples.items() if name == "model_feedback_labels_total")


def test_ids_of_another_model_sharing_the_key_are_refused(
    client_for: ClientFn, model_dir: Path, mixed_dir: Path, regression_dir: Path
) -> None:
    """Before: a regressor's id was scored by a classifier (an absolute error on a classifier),
    and another classifier's id counted as a wrong prediction of this one."""
    cancer, mixed, regression = (client_for(d) for d in (model_dir, mixed_dir, regression_dir))
    cancer_id = served(cancer, record(model_dir))["id"]
    mixed_id = served(mixed, MIXED)["id"]
    value_id = served(regression, record(regression_dir))["id"]
    cases = [
        (cancer, {"id": value_id, "label": 100.0}),  # a regressor's id, a number
        (cancer, {"id": mixed_id, "label": "benign"}),  # another classifier's, our class
        (regression, {"id": cancer_id, "label": 3.0}),  # a classifier's id at a regressor
    ]
    for client, item in cases:
        answer = client.post("/feedback", json={"feedback": [item]})
        assert answer.status_code == 200
        body = answer.json()
        assert body["accepted"] == 0
        assert [r["reason"] for r in body["refused"]] == ["wrong_model"], body
        assert "model" in body["refused"][0]["detail"]
    for client in (cancer, regression):
        assert scored(client) == 0
        assert value(scrape(client), "model_feedback_refused_total", reason="wrong_model") >= 1
    # The model's own ids are still scored.
    own = cancer.post("/feedback", json={"feedback": [{"id": cancer_id, "label": "benign"}]})
    assert own.json()["accepted"] == 1


def test_truncated_ids_are_never_accepted(client_for: ClientFn, model_dir: Path) -> None:
    client = client_for(model_dir)
    token = served(client, record(model_dir))["id"]
    cuts = [token[:-n] for n in range(1, 9)] + [token[:4], token[:-4] + "AAAA", token + "AAAA"]
    answer = client.post("/feedback", json={"feedback": [{"id": t, "label": "x"} for t in cuts]})
    assert answer.status_code == 200
    body = answer.json()
    assert body["accepted"] == 0
    assert {r["reason"] for r in body["refused"]} <= {"malformed_id", "bad_signature"}
    assert len(body["refused"]) == len(cuts)
    whole = client.post("/feedback", json={"feedback": [{"id": token, "label": "benign"}]})
    assert whole.json()["accepted"] == 1  # none of the cut ones used it up


def test_a_regression_label_that_would_overflow_the_error_metric_is_refused(
    client_for: ClientFn, regression_dir: Path
) -> None:
    """Before: labels of ±1.7e308 were accepted; two of them made the error metric's sum
    infinite for the life of the process (and its mean NaN)."""
    client = client_for(regression_dir)
    ids = [served(client, record(regression_dir))["id"] for _ in range(3)]
    items = [
        {"id": ids[0], "label": 1.7e308},
        {"id": ids[1], "label": -1.7e308},
        {"id": ids[2], "label": 1e200},
    ]
    body = client.post("/feedback", json={"feedback": items}).json()
    assert body["accepted"] == 0
    assert [r["reason"] for r in body["refused"]] == ["out_of_range"] * 3
    error_sum = value(scrape(client), "model_feedback_absolute_error_sum", version="x")
    assert math.isfinite(error_sum)
    fine = client.post("/feedback", json={"feedback": [{"id": ids[0], "label": 1e6}]})
    assert fine.json()["accepted"] == 1


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e400"])
def test_a_label_that_is_not_a_finite_json_number_is_a_400_that_says_so(
    client_for: ClientFn, regression_dir: Path, token: str
) -> None:
    client = client_for(regression_dir)
    item = served(client, record(regression_dir))["id"]
    text = '{"feedback": [{"id": "%s", "label": %s}]}' % (item, token)
    answer = client.post("/feedback", content=text.encode(), headers=JSON)
    assert answer.status_code == 400
    assert "NaN and Infinity" in answer.json()["detail"], answer.text
    assert item not in answer.text  # nothing of the body is echoed
