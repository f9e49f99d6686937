"""Tables with the shapes real data has (tests.data.shapes), end to end through the real stages:
each trains a model clearly better than the baseline that ignores the features (headline
metric ≥ baseline + 0.05; R² ≥ 0.1 for regression), or its stage fails with one line that
names the numbers and what to change — never a green run with a model no better than guessing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.data import shapes
from tests.support.pipeline import STAGES, run_stage, run_stages
from tests.support.repo import default_params

pytestmark = pytest.mark.slow  # each case runs the four stages for real


def params_for(source: Path, target: str, **sections: dict[str, Any]) -> dict[str, Any]:
    params = default_params()
    params["data"].update(source=str(source), target=target)
    for name, values in sections.items():
        params[name] = {**params[name], **values}
    return params


def train(tmp_path: Path, shape: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """Run the pipeline on the shape; the model card plus the rows of each split."""
    source, target = shapes.write(shape, tmp_path / "source")
    model_dir = run_stages(tmp_path / "run", params_for(source, target, **sections))
    card: dict[str, Any] = json.loads((model_dir / "model_card.json").read_text())
    info = json.loads((tmp_path / "run" / "reports" / "train_info.json").read_text())
    processed = tmp_path / "run" / "data" / "processed"
    card["rows_used"] = sum(
        len(pd.read_parquet(processed / f"{name}.parquet")) for name in ("train", "val", "test")
    )
    card["info"] = info
    return card


def failing_stage(tmp_path: Path, shape: str, **sections: dict[str, Any]) -> tuple[str, str]:
    """Run the stages as `dvc repro` does (one `python -m` each) until one fails: its name and
    its stderr. The test fails if every stage succeeds."""
    source, target = shapes.write(shape, tmp_path / "source")
    work = tmp_path / "run"
    work.mkdir()
    (work / "params.yaml").write_text(yaml.safe_dump(params_for(source, target, **sections)))
    for stage in STAGES:
        done = run_stage(work, stage)
        if done.returncode != 0:
            return stage, done.stderr
    raise AssertionError(f"{shape}: every stage succeeded with {sections}")


def clearly_better(card: dict[str, Any]) -> None:
    metrics, headline = card["metrics"], card["params"]["gate"]["metric"]
    assert metrics[headline] >= metrics[f"baseline_{headline}"] + 0.05, metrics
    if card["task"] == "regression":
        assert metrics["r2"] >= 0.1, metrics


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    return lines[0]


def test_duplicate_rows_are_kept_and_counted(tmp_path: Path) -> None:
    card = train(tmp_path, "duplicates")
    assert card["rows_used"] == 1316  # 24 distinct rows, every one of them used
    clearly_better(card)


def test_deduplicating_them_stops_with_the_numbers(tmp_path: Path) -> None:
    stage, stderr = failing_stage(tmp_path, "duplicates", preprocess={"dedupe": True})
    assert stage == "preprocess"
    frame, _ = shapes.duplicates()
    repeated = len(frame) - len(frame.drop_duplicates())
    line = one_line(stderr)
    assert f"remove {repeated:,} of 1,316 labelled rows" in line
    assert "preprocess.max_dropped 0.5" in line


def test_a_skewed_target_with_outliers_converges(tmp_path: Path) -> None:
    card = train(tmp_path, "skewed", gate={"metric": "r2"})
    clearly_better(card)
    history = card["info"]["history"]
    assert history[-1]["val_loss"] < history[0]["val_loss"]


def test_without_clipping_the_outliers_the_divergence_is_caught(tmp_path: Path) -> None:
    stage, stderr = failing_stage(tmp_path, "skewed", preprocess={"clip": None})
    assert stage == "train"
    line = one_line(stderr)
    assert "training diverges" in line and "train.learning_rate" in line


def test_id_columns_are_ignored_and_named(tmp_path: Path) -> None:
    card = train(tmp_path, "ids")
    assert card["ignored_columns"] == ["customer_id", "account"]
    assert {f["name"] for f in card["features"]} == {"tenure", "monthly", "plan"}
    clearly_better(card)


def test_a_2000_value_categorical_keeps_the_frequent_ones(tmp_path: Path) -> None:
    card = train(tmp_path, "high_cardinality")
    shop = {f["name"]: f for f in card["features"]}["shop"]
    assert 2 <= len(shop["categories"]) <= 50
    assert card["ignored_columns"] == ["order_id"]
    assert len(json.dumps(card)) < 30_000
    clearly_better(card)


@pytest.mark.parametrize(
    "split", [{}, {"split": "time", "split_column": "ordered_at"}]  # group: unit-tested
)
def test_dates_become_parts_with_every_split(tmp_path: Path, split: dict[str, str]) -> None:
    card = train(tmp_path, "dates", preprocess=split)
    names = {f["name"] for f in card["features"]}
    assert {"ordered_at_month", "ordered_at_dayofweek", "ordered_at_hour"} <= names
    assert "ordered_at" not in names
    clearly_better(card)


def test_a_table_with_nothing_to_learn_fails_the_train_stage(tmp_path: Path) -> None:
    stage, stderr = failing_stage(tmp_path, "noise")
    assert stage == "train"
    assert "no better than always the majority class 'no'" in one_line(stderr)
