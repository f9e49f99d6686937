"""What the load and preprocess logs tell a user about their table: the ID-like and date columns
by name, the rows without a label apart from the rest, and how many duplicates went and why."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops_template.stages import load, preprocess
from tests.support.pipeline import run_stage
from tests.support.repo import default_params


def run(tmp_path: Path, frame: pd.DataFrame, **preprocess_values: object) -> None:
    frame.to_csv(tmp_path / "table.csv", index=False)
    params = default_params()
    params["data"].update(source=str(tmp_path / "table.csv"), target="label")
    params["preprocess"].update(preprocess_values)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        load.main()
        preprocess.main()


def table(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, n)
    label = np.where(x > 1, "yes", "no").astype(object)
    label[:12] = None  # no label: counted apart, never a "dropped" row
    return pd.DataFrame(
        {
            "customer": [f"c-{i:05d}" for i in rng.permutation(n)],
            "ordered_at": pd.date_range("2024-01-01", periods=n, freq="h").astype(str),
            "x": x,
            "label": label,
        }
    )


def messages(caplog: pytest.LogCaptureFixture, stage: str) -> str:
    return "\n".join(r.getMessage() for r in caplog.records if r.name.endswith(stage))


def test_load_names_id_and_date_columns_and_counts_unlabelled_rows(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run(tmp_path, table())
    text = messages(caplog, "load")
    assert "300 rows (12 without a label)" in text
    assert "ID-like column(s) customer" in text and "preprocess.keep_ids" in text
    assert "date/time column(s) ordered_at" in text
    text = messages(caplog, "preprocess")
    assert "300 rows, 12 without a label; no labelled row removed" in text
    assert "not features: customer" in text


def test_preprocess_says_how_many_duplicates_went_and_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """50 rows repeated: kept by default, and with preprocess.dedupe the log counts them."""
    caplog.set_level(logging.INFO)
    frame = table().drop(columns=["customer", "ordered_at"])
    frame["z"] = np.random.default_rng(1).normal(size=len(frame))  # floats: never an ID
    frame = pd.concat([frame, frame.iloc[100:150]], ignore_index=True)
    run(tmp_path, frame)
    assert "350 rows, 12 without a label; no labelled row removed" in messages(caplog, "preprocess")
    caplog.clear()
    run(tmp_path, frame, dedupe=True)
    assert "removed 50 duplicate rows (preprocess.dedupe)" in messages(caplog, "preprocess")


@pytest.mark.parametrize("stage", ["preprocess", "train", "evaluate"])
def test_a_stage_without_its_input_names_the_file_in_one_line(tmp_path: Path, stage: str) -> None:
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(default_params()))
    done = run_stage(tmp_path, stage)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: ") and "not found" in line and "dvc repro" in line, line
    assert {"preprocess": "data/raw", "train": "data/processed", "evaluate": "reports/"}[
        stage
    ] in line
