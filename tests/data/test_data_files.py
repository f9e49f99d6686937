"""The load stage on real files: your own CSVs train end to end, bad files fail cleanly.

A bad file must fail with one line naming the file, the column and the reason, a non-zero
exit, and the previous output left exactly as it was.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.pipeline import TrainFn, run_stage
from mlops_template.core import cli
from mlops_template.stages import load
from tests.support.repo import default_params

FILES = Path(__file__).parent / "files"


def test_multiclass_with_categorical_and_missing_values(train_bundle: TrainFn) -> None:
    source = str(FILES / "fruit_multiclass.csv")
    model_dir = train_bundle(data={"source": source, "target": "species"})
    card = json.loads((model_dir / "model_card.json").read_text())
    kinds = {f["name"]: f for f in card["features"]}
    assert card["task"] == "classification"
    assert card["classes"] == ["apple", "berry", "large"]
    assert kinds["color"]["kind"] == "categorical"
    assert kinds["color"]["categories"] == ["blue", "green", "red"]
    assert kinds["color"]["nullable"] and kinds["size"]["nullable"]
    assert kinds["organic"]["kind"] == "boolean"
    assert "roc_auc" in card["metrics"]
    assert card["metrics"]["accuracy"] > 0.7


def test_regression_is_inferred_and_scored(train_bundle: TrainFn) -> None:
    source = str(FILES / "houses_regression.csv")
    model_dir = train_bundle(data={"source": source, "target": "price"})
    card = json.loads((model_dir / "model_card.json").read_text())
    assert card["task"] == "regression"
    assert card["classes"] == []
    assert set(card["metrics"]) == {
        "mae",
        "rmse",
        "r2",
        "baseline_mae",
        "baseline_rmse",
        "baseline_r2",
    }
    assert card["metrics"]["r2"] > 0.8
    assert card["drift_reference"]["prediction"]["kind"] == "numeric"


def write_params(workdir: Path, source: str, target: str = "price", sep: str = ",") -> None:
    params = default_params()
    params["data"].update(source=source, target=target, sep=sep)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params))


def _load(
    workdir: Path, source: str, target: str = "price", sep: str = ","
) -> subprocess.CompletedProcess[str]:
    """The load stage in `workdir`, in this process through its CLI wrapper (exit code, stderr);
    `test_the_stage_command_fails_with_one_line` runs the same as a real `python -m`."""
    write_params(workdir, source, target, sep)
    stderr = io.StringIO()
    code: int | str | None = 0
    here = Path.cwd()
    os.chdir(workdir)
    try:
        with contextlib.redirect_stderr(stderr):
            cli.run(load.main)
    except SystemExit as exc:
        code = exc.code
    finally:
        os.chdir(here)
    return subprocess.CompletedProcess(["load"], int(code or 0), "", stderr.getvalue())


def test_the_stage_command_fails_with_one_line(tmp_path: Path) -> None:
    write_params(tmp_path, str(FILES / "bad_missing_target.csv"))
    result = run_stage(tmp_path, "load")
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        f"error: {FILES / 'bad_missing_target.csv'}: target column 'price' not found "
        "(columns: rooms, area, district)"
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("bad_missing_target.csv", "target column 'price' not found"),
        ("bad_empty.csv", "file is empty"),
        ("bad_semicolon.csv", "is data.sep (',') the file's separator?"),
        ("bad_all_nan_column.csv", "column 'area' is empty (all values missing)"),
        ("no_such_file.csv", "file not found"),
        ("bad_duplicate_header.csv", "column 'area' appears 2 times in the header"),
    ],
)
def test_bad_file_fails_with_one_line_and_keeps_previous_output(
    tmp_path: Path, name: str, expected: str
) -> None:
    good = _load(tmp_path, str(FILES / "houses_regression.csv"))
    assert good.returncode == 0, good.stderr
    raw = tmp_path / "data" / "raw" / "dataset.parquet"
    before = raw.read_bytes()

    bad = _load(tmp_path, str(FILES / name))

    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1, bad.stderr
    assert name in lines[0] and expected in lines[0]
    assert raw.read_bytes() == before
    assert not [p for p in raw.parent.iterdir() if p.name != raw.name], "temporary file left behind"


def test_too_few_rows_and_single_class(tmp_path: Path) -> None:
    small = tmp_path / "small.csv"
    small.write_text("x,label\n" + "".join(f"{i},a\n" for i in range(60)))
    result = _load(tmp_path, str(small), target="label")
    assert result.returncode == 1
    assert "column 'label' has 1 class, classification needs 2 or more" in result.stderr
    tiny = tmp_path / "tiny.csv"
    tiny.write_text("x,label\n" + "".join(f"{i},{i % 2}\n" for i in range(10)))
    result = _load(tmp_path, str(tiny), target="label")
    assert result.returncode == 1
    assert "10 rows with a label in column 'label', need at least 20" in result.stderr


def test_parquet_source(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.read_csv(FILES / "houses_regression.csv")
    path = tmp_path / "houses.parquet"
    frame.to_parquet(path)
    result = _load(tmp_path, str(path))
    assert result.returncode == 0, result.stderr
    loaded = pd.read_parquet(tmp_path / "data" / "raw" / "dataset.parquet")
    assert loaded.shape == frame.shape


def test_a_parquet_file_with_a_column_twice_is_refused(tmp_path: Path) -> None:
    """Parquet allows two columns of one name; pandas would keep one of them silently."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    n = 80
    values = pa.array([float(i) for i in range(n)])
    table = pa.Table.from_arrays(
        [values, values, pa.array([i % 2 for i in range(n)])], names=["x", "x", "label"]
    )
    source = tmp_path / "twice.parquet"
    pq.write_table(table, source)
    result = _load(tmp_path, str(source), target="label")
    assert result.returncode == 1
    assert "column 'x' appears 2 times in the header" in result.stderr
