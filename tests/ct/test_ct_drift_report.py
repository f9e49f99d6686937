"""The offline drift report (`mlops_template.ct.drift_report`): clean, shifted, broken batches."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops_template.ct import drift_report
from mlops_template.stages import datasets


def _features(model_dir: Path) -> pd.DataFrame:
    """The bundled data set (what the default model was trained on) without its label."""
    return datasets.read("breast_cancer").drop(columns=["diagnosis"])


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in-process (fast): exit code and output as a subprocess would give them."""
    capture = _Capture()
    with contextlib.redirect_stdout(capture.out), contextlib.redirect_stderr(capture.err):
        code = drift_report.main(list(args))
    return subprocess.CompletedProcess(
        list(args), code, capture.out.getvalue(), capture.err.getvalue()
    )


class _Capture:
    def __init__(self) -> None:
        self.out, self.err = io.StringIO(), io.StringIO()


def _run_process(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_template.ct.drift_report", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_clean_batch_exits_0_with_a_row_per_feature(model_dir: Path, tmp_path: Path) -> None:
    batch = tmp_path / "clean.csv"
    _features(model_dir).to_csv(batch, index=False)
    done = _run(str(batch), "--model-dir", str(model_dir))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["feature", "PSI"]
    assert sum(1 for line in lines if line.startswith("mean_radius ")) == 1
    assert len([line for line in lines if line.endswith(" ok")]) == 31  # 30 features + prediction
    assert "No drift" in lines[-1]


def test_shifted_batch_exits_1_and_names_the_drifted_features(
    model_dir: Path, tmp_path: Path
) -> None:
    frame = _features(model_dir)
    frame["mean_radius"] *= 1.6
    frame["worst_area"] += 3 * frame["worst_area"].std()
    batch = tmp_path / "shifted.parquet"
    frame.to_parquet(batch)
    done = _run_process(str(batch), "--model-dir", str(model_dir), "--format", "md")
    assert done.returncode == 1, done.stderr
    rows = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| feature | PSI |")
    drifted = {r.split("|")[1].strip() for r in rows[1:] if r.rstrip().endswith("DRIFT |")}
    assert drifted == {"mean_radius", "worst_area"}
    assert "**Prediction drift**: PSI" in done.stdout


def test_threshold_decides_the_exit_code(model_dir: Path, tmp_path: Path) -> None:
    frame = _features(model_dir)
    frame["mean_radius"] *= 1.6
    batch = tmp_path / "shifted.csv"
    frame.to_csv(batch, index=False)
    report = drift_report.compare(frame, model_dir, threshold=0.2)
    psi = next(r.psi for r in report.rows if r.name == "mean_radius")
    assert (
        _run(str(batch), "--model-dir", str(model_dir), "--threshold", str(psi + 1)).returncode == 0
    )
    done = _run(str(batch), "--model-dir", str(model_dir), "--format", "json")
    assert done.returncode == 1
    assert json.loads(done.stdout)["drifted"] == ["mean_radius"]


def test_missing_columns_are_named_with_exit_2(model_dir: Path, tmp_path: Path) -> None:
    batch = tmp_path / "partial.csv"
    _features(model_dir).drop(columns=["mean_radius", "worst_area"]).to_csv(batch, index=False)
    done = _run(str(batch), "--model-dir", str(model_dir))
    assert done.returncode == 2
    assert done.stdout == ""
    assert "2 feature column(s)" in done.stderr
    assert "mean_radius, worst_area" in done.stderr


@pytest.mark.parametrize("name", ["nothere.csv", "batch.txt"])
def test_unreadable_input_is_one_line_with_exit_2(
    model_dir: Path, tmp_path: Path, name: str
) -> None:
    path = tmp_path / name
    if name.endswith(".txt"):
        path.write_text("a,b\n1,2\n")
    done = _run(str(path), "--model-dir", str(model_dir))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and len(done.stderr.strip().splitlines()) == 1


def test_prediction_drift_is_skipped_without_the_model_file(
    model_dir: Path, tmp_path: Path
) -> None:
    card_only = tmp_path / "model"
    card_only.mkdir()
    (card_only / "model_card.json").write_bytes((model_dir / "model_card.json").read_bytes())
    report = drift_report.compare(_features(model_dir), card_only)
    assert report.prediction is None and "not found" in report.prediction_note
    assert not report.drifted
