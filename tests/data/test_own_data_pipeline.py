"""A user's CSV with the quirks real exports have — a BOM, CRLF line endings, a separator ending
every line, spaces around names and labels, infinities, Markdown/HTML in names and values, and
columns named like the API's own keys — trains through the four stages, and the served model
answers a record written with the same names (in-process app: tests/support/api.py)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from api.main import create_app
from api.settings import Settings
from tests.support.pipeline import run_stages
from tests.support.repo import default_params

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Starlette's note on its TestClient's future
    from fastapi.testclient import TestClient

HTML = "| **size** <script>alert(1)</script> `x`"


def quirky_csv(n: int = 400) -> bytes:
    rng = np.random.default_rng(7)
    size = rng.normal(size=n)
    colour = rng.choice(["<img src=x>", "| **g** |", "`b`"], n)
    label = np.where(size + 0.8 * (colour == "`b`") > 0.3, "yes ", " no")
    frame = pd.DataFrame(
        {
            f" {HTML} ": size.round(4),
            "records": rng.normal(size=n).round(3),
            "id": colour,
            "model_version": np.where(np.arange(n) % 40 == 0, "inf", "1.5"),
            "prediction": rng.choice(["True", "False"], n),
            " label": label,
        }
    )
    text = frame.to_csv(index=False, lineterminator="\r\n")
    return ("\ufeff" + text.replace("\r\n", ",\r\n")).encode()


@pytest.mark.slow
def test_a_quirky_csv_trains_and_its_model_answers_by_the_same_names(tmp_path: Path) -> None:
    source = tmp_path / "mine.csv"
    source.write_bytes(quirky_csv())
    params = default_params()
    params["data"].update(source=str(source), target="label")
    model_dir = run_stages(tmp_path / "run", params)  # raises with the stage's output

    card = json.loads((model_dir / "model_card.json").read_text())
    kinds = {f["name"]: f for f in card["features"]}
    assert list(kinds) == [HTML, "records", "id", "model_version", "prediction"]
    assert card["classes"] == ["no", "yes"]
    assert kinds["model_version"]["nullable"]  # the infinities, as missing values
    assert kinds["prediction"]["kind"] == "boolean"
    assert card["metrics"]["accuracy"] > 0.8

    record = {HTML: 1.2, "records": 0.1, "id": "`b`", "model_version": None, "prediction": True}
    with TestClient(create_app(Settings(model_dir=model_dir))) as client:
        answer = client.post("/predict", json={"records": [record]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["prediction"] == "yes"
        wrong = client.post("/predict", json={"records": [{**record, "records": "many"}]})
        assert wrong.status_code == 422
        assert "records[0].records" in wrong.text


@pytest.mark.slow
def test_a_column_missing_from_the_training_split_leaves_a_servable_model(tmp_path: Path) -> None:
    """It used to be a feature the imputer dropped: the pipeline ran green and the server
    answered 503 (the model failed its probe rows)."""
    rng = np.random.default_rng(8)
    n = 300
    x = rng.normal(size=n)
    frame = pd.DataFrame(
        {
            "day": pd.date_range("2024-01-01", periods=n).astype(str),
            "x": x,
            "late": np.where(np.arange(n) > 250, rng.normal(size=n), np.nan),
            "label": np.where(x > 0, "yes", "no"),
        }
    )
    frame.to_csv(tmp_path / "mine.csv", index=False)
    params = default_params()
    params["data"].update(source=str(tmp_path / "mine.csv"), target="label")
    params["preprocess"].update(split="time", split_column="day")
    model_dir = run_stages(tmp_path / "run", params)
    record = {"day_year": 2024.0, "day_month": 9.0, "day_dayofweek": 1.0, "x": 2.0, "late": 0.5}
    with TestClient(create_app(Settings(model_dir=model_dir))) as client:
        answer = client.post("/predict", json={"records": [record]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"][0]["prediction"] == "yes"
