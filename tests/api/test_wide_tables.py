"""A table with an ID column and a 2,000-value categorical: served by the fast path (parity
with sklearn, rare and unseen categories in the "other" column, clipped outliers), the ID
accepted and ignored by /predict, and the card, /openapi.json and /metrics stay small."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from tests.api.test_inference import split_rows
from tests.support.api import ClientFn, record, scrape, v2_tensors

from mlops_template.core.bundle import load as load_bundle

from api.inference import FastPath, SklearnBackend, probe_rows
from api.records import Records
from api.state import read_card


def test_the_fast_path_serves_rare_and_unseen_categories_like_sklearn(wide_dir: Path) -> None:
    rows, state = split_rows(wide_dir)
    card = state.model.card
    assert state.model.backend.name == "numpy"  # not the 1000x slower sklearn fallback
    shop = {f.name: f for f in card.features}["shop"]
    assert 2 <= len(shop.categories) <= 50  # the frequent shops; the rest share "other"
    position = [f.name for f in card.features].index("shop")
    rare = [r for r in rows.rows if r[position] not in shop.categories]
    assert len(rare) > 100  # the test split really holds infrequent and unseen shops
    unseen = [[*r[:position], "never-seen", *r[position + 1 :]] for r in rows.rows[:50]]
    every = Records([*rows.rows, *unseen])
    slow = SklearnBackend(
        load_bundle(wide_dir / "model.skops", card.sha256), card.features, card.task
    )
    fast_out, slow_out = state.model.backend.run(every), slow.run(every)
    np.testing.assert_array_equal(fast_out.proba.argmax(axis=1), slow_out.proba.argmax(axis=1))
    np.testing.assert_allclose(fast_out.proba, slow_out.proba, rtol=0, atol=1e-9)


def test_values_far_beyond_the_clip_agree_with_sklearn(model_dir: Path) -> None:
    card = read_card(model_dir)
    pipeline = load_bundle(model_dir / "model.skops", card.sha256)
    rows = probe_rows(card.features, card.drift_reference)
    extreme = [[(v * 1000.0 if isinstance(v, float) else v) for v in r] for r in rows]
    fast = FastPath(pipeline, card.features, card.task)
    assert fast.clip == card.params["preprocess"]["clip"]
    records = Records([*rows, *extreme])
    slow = SklearnBackend(pipeline, card.features, card.task)
    np.testing.assert_allclose(fast.run(records).proba, slow.run(records).proba, atol=1e-9)


def test_predict_accepts_and_ignores_the_id_column(client_for: ClientFn, wide_dir: Path) -> None:
    card = read_card(wide_dir)
    assert card.ignored_columns == ["order_id"]
    assert "order_id" not in [f.name for f in card.features]
    client = client_for(wide_dir)
    base = record(wide_dir)
    with_id = [{**base, "order_id": "0a1b2c3d"}, {**base, "order_id": 12345}, base]
    answer = client.post("/predict", json={"records": with_id})
    assert answer.status_code == 200, answer.text
    first, second, third = (
        {k: v for k, v in p.items() if k != "id"} for p in answer.json()["predictions"]
    )
    assert first == second == third  # each row has its own prediction id
    # the pydantic route (a body the column-wise check passes on) gives the same answer
    odd = client.post("/predict", json={"records": [{**base, "order_id": None, "age": 40}]})
    assert odd.status_code == 200, odd.text
    unknown = client.post("/predict", json={"records": [{**base, "coupon": "x"}]})
    assert unknown.status_code == 422 and "coupon" in unknown.text
    schema = client.get("/openapi.json").json()["components"]["schemas"]["Record"]
    assert "ignored" in schema["properties"]["order_id"]["description"]


def test_v2_accepts_and_ignores_an_id_tensor(client_for: ClientFn, wide_dir: Path) -> None:
    """A V2 client that still sends the ID column gets the answer it gets without it."""
    client = client_for(wide_dir)
    url = f"/v2/models/{read_card(wide_dir).name}/infer"
    base = record(wide_dir)
    inputs = v2_tensors(wide_dir, [base, base])
    order_id = {"name": "order_id", "shape": [2], "datatype": "BYTES", "data": ["0a1b", "0a1c"]}
    plain = client.post(url, json={"inputs": inputs})
    assert plain.status_code == 200, plain.text
    with_id = client.post(url, json={"inputs": [order_id, *inputs]})
    assert with_id.status_code == 200, with_id.text

    def outputs(answer: Any) -> list[Any]:  # prediction ids differ per row and call
        return [o for o in answer.json()["outputs"] if o["name"] != "prediction_id"]

    assert outputs(with_id) == outputs(plain)
    only_id = client.post(url, json={"inputs": [order_id]})
    assert only_id.status_code == 400 and "no input is a feature" in only_id.text
    coupon = client.post(url, json={"inputs": [dict(order_id, name="coupon"), *inputs]})
    assert coupon.status_code == 400 and "unknown input 'coupon'" in coupon.text


def test_card_openapi_and_metrics_stay_small(client_for: ClientFn, wide_dir: Path) -> None:
    """4,000 rows, an ID and a 2,000-value column gave a 277 KB card and 8,399 series."""
    card_bytes = (wide_dir / "model_card.json").stat().st_size
    assert card_bytes < 30_000, card_bytes
    client = client_for(wide_dir)
    openapi = len(client.get("/openapi.json").content)
    assert openapi < 40_000, openapi
    frame = pd.read_parquet(wide_dir.parent / "data" / "processed" / "test.parquet")
    records = json.loads(frame.drop(columns=["label"]).head(200).to_json(orient="records"))
    assert client.post("/predict", json={"records": records}).status_code == 200
    series = len(scrape(client))
    assert series < 600, series


@pytest.mark.slow
@pytest.mark.parametrize(
    "train",
    [
        {"model": "random_forest", "n_estimators": 20, "epochs": 2},
        {"model": "gradient_boosting", "max_iter": 40, "epochs": 2},
    ],
    ids=lambda t: str(t["model"]),
)
def test_tree_models_with_rare_categories_are_served_by_onnx(
    train_bundle: ClientFn, wide_dir: Path, train: dict[str, object]
) -> None:
    """The "other" column and clipped numbers feed the ONNX trees as they feed sklearn's."""
    source = read_card(wide_dir).params["data"]["source"]
    bundle = train_bundle(data={"source": source, "target": "label"}, train=train)
    rows, state = split_rows(bundle)
    assert state.model.backend.name == "onnx"
    card = state.model.card
    assert card.model == train["model"]
    slow = SklearnBackend(
        load_bundle(bundle / "model.skops", card.sha256), card.features, card.task
    )
    extreme = Records([*rows.rows, *probe_rows(card.features, card.drift_reference)])
    np.testing.assert_allclose(
        state.model.backend.run(extreme).proba, slow.run(extreme).proba, atol=1e-5
    )
