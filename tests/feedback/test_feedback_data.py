"""The join of captured rows and labels: duplicates, bad labels, left-out columns, the window,
and the load stage taking the table (append / replace) through its usual checks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from api.feedback.settings import CaptureSettings
from mlops_template.core import capture, card, paths
from mlops_template.core.live_params import FeedbackParams
from mlops_template.core.errors import StageError
from mlops_template.ct import feedback_data
from mlops_template.stages import datasets, load, production
from tests.feedback.conftest import KEY
from tests.support.api import ClientFn


def served_and_labelled(
    client_for: ClientFn,
    model_dir: Path,
    url: Path,
    monkeypatch: pytest.MonkeyPatch,
    **capture_kw: Any,
) -> list[dict[str, Any]]:
    """Serve 6 rows with capture on, label them (one twice, one with an unknown class)."""
    monkeypatch.setenv("FEEDBACK_KEY", KEY)
    settings = CaptureSettings(enabled=True, url=str(url), **capture_kw)
    client = client_for(model_dir, capture=settings)
    rows = datasets.read("breast_cancer").drop(columns=["diagnosis"]).head(6)
    body = {"records": rows.to_dict(orient="records")}
    predictions: list[dict[str, Any]] = client.post("/predict", json=body).json()["predictions"]
    truth = ["benign", "malignant", "benign", "malignant", "benign", "malignant"]
    items = [{"id": p["id"], "label": t} for p, t in zip(predictions, truth)]
    assert client.post("/feedback", json={"feedback": items[:4]}).json()["accepted"] == 4
    client.__exit__(None, None, None)  # shutdown flushes the capture
    return [dict(p, truth=t) for p, t in zip(predictions, truth)]


def test_the_join_gives_the_training_columns_first_label_wins(
    client_for: ClientFn, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = served_and_labelled(client_for, model_dir, tmp_path / "cap", monkeypatch)
    # The same label again, and a conflicting one, reaching other processes later.
    late = pd.DataFrame(
        {
            capture.ID: [served[0]["id"], served[1]["id"], served[4]["id"]],
            capture.LABEL: ["malignant", "malignant", "dog"],
            capture.LABELLED_AT: pd.Timestamp.now(tz="UTC") + pd.Timedelta(seconds=5),
        }
    )
    url = str(tmp_path / "cap")
    labels = pd.concat([capture.read(url, capture.LABELS), late], ignore_index=True)
    predictions = capture.read(url, capture.PREDICTIONS)
    model_card = card.read(model_dir)
    table, summary = feedback_data.join(predictions, labels, model_card, FeedbackParams())
    assert list(table.columns) == [f.name for f in model_card.features] + ["diagnosis"]
    assert len(table) == 4 and summary.rows == 4
    assert summary.duplicates == 2 and summary.refused == 1
    assert table["diagnosis"].tolist() == [s["truth"] for s in served[:4]]  # first label kept
    expected = np.mean([s["prediction"] == s["truth"] for s in served[:4]])
    assert summary.quality == pytest.approx(expected)
    assert summary.by_version == {model_card.version: pytest.approx(expected)}
    original = datasets.read("breast_cancer").head(4).drop(columns=["diagnosis"])
    pd.testing.assert_frame_equal(
        table.drop(columns=["diagnosis"]), original.reset_index(drop=True), check_dtype=False
    )
    assert summary.first and summary.first <= summary.last


def test_dropped_and_hashed_features_become_missing_values(
    client_for: ClientFn, model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = tmp_path / "cap"
    served_and_labelled(
        client_for,
        model_dir,
        url,
        monkeypatch,
        drop_columns="mean_area",
        hash_columns="mean_radius",
    )
    predictions = capture.read(str(url), capture.PREDICTIONS)
    assert "mean_area" not in predictions and predictions["mean_radius"].str.len().eq(32).all()
    table, summary = feedback_data.join(
        predictions, capture.read(str(url), capture.LABELS), card.read(model_dir), FeedbackParams()
    )
    assert table["mean_area"].isna().all() and table["mean_radius"].isna().all()
    assert summary.left_out == ["mean_area", "mean_radius"]
    assert "missing values: mean_area, mean_radius" in feedback_data.describe(summary)


def test_rows_served_before_the_window_are_left_out(
    client_for: ClientFn,
    model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = tmp_path / "cap"
    served_and_labelled(client_for, model_dir, url, monkeypatch)
    since = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=1)
    assert capture.read(str(url), capture.PREDICTIONS, since).empty
    assert len(capture.read(str(url), capture.PREDICTIONS, since - dt.timedelta(days=1))) == 6


def write_params(work: Path, mode: str) -> None:
    params = yaml.safe_load((Path(__file__).parents[2] / "params.yaml").read_text())
    params["feedback"]["mode"] = mode
    (work / "params.yaml").write_text(yaml.safe_dump(params))


@pytest.mark.parametrize("mode", ["append", "replace"])
def test_load_combines_the_table_with_the_source_and_checks_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, mode)
    source = datasets.read("breast_cancer")
    extra = source.sample(60, random_state=1).reset_index(drop=True)
    paths.FEEDBACK_DIR.mkdir(parents=True)
    extra.to_parquet(paths.FEEDBACK_TABLE)
    load.main()
    raw = pd.read_parquet(paths.RAW)
    assert len(raw) == (len(source) + 60 if mode == "append" else 60)
    assert list(raw.columns) == list(source.columns)


def test_poisoned_labels_stop_at_the_load_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Labels that make the table untrainable (one class only, with replace) fail load."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, "replace")
    rows = datasets.read("breast_cancer").head(80).assign(diagnosis="benign")
    paths.FEEDBACK_DIR.mkdir(parents=True)
    rows.to_parquet(paths.FEEDBACK_TABLE)
    with pytest.raises(StageError, match="1 class"):
        load.validate(
            production.combine(datasets.read("breast_cancer"), FeedbackParams(mode="replace")),
            load.config.load().data,
        )


def test_a_table_with_other_columns_is_refused_naming_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    paths.FEEDBACK_DIR.mkdir(parents=True)
    datasets.read("breast_cancer").head(5).rename(columns={"mean_radius": "radius"}).to_parquet(
        paths.FEEDBACK_TABLE
    )
    with pytest.raises(StageError, match="missing: mean_radius; extra: radius"):
        production.combine(datasets.read("breast_cancer"), FeedbackParams())
