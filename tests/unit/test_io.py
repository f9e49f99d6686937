"""Parquet written in row groups from row positions and read back column by column: the same
table pandas would read, for every column type a user's file may hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops_template.core import io


def table(n: int = 250) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    count = rng.integers(0, 9, n).astype(float)
    count[::7] = np.nan
    colour = rng.choice(["red", "blue"], n).astype(object)
    colour[::5] = None
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "count": count,
            "rooms": rng.integers(1, 5, n),
            "flag": rng.random(n) < 0.5,
            "colour": colour,
            "when": pd.date_range("2024-01-01", periods=n, freq="h"),
        }
    )


def test_rows_are_written_in_groups_and_read_back_as_pandas_reads_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(io, "ROW_GROUP", 100)
    frame = table()
    rows = np.random.default_rng(1).permutation(len(frame))[:230]
    path = tmp_path / "part.parquet"
    io.write_parquet(path, frame, rows)
    expected = frame.iloc[rows].reset_index(drop=True)
    pd.testing.assert_frame_equal(io.read_parquet(path), pd.read_parquet(path))
    pd.testing.assert_frame_equal(pd.read_parquet(path), expected, check_dtype=False)
    chunks = list(io.parquet_chunks(path, ["x", "colour"]))
    assert [len(c) for c in chunks] == [100, 100, 30] and io.parquet_rows(path) == 230
    pd.testing.assert_frame_equal(
        pd.concat(chunks, ignore_index=True), io.read_parquet(path, ["x", "colour"])
    )


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    io.write_parquet(path, table(10))
    with pytest.raises(KeyError, match="no column"):
        io.read_parquet(path, ["x", "nope"])


def test_a_pandas_index_stored_in_a_users_file_is_not_a_column(tmp_path: Path) -> None:
    path = tmp_path / "user.parquet"
    table(20).set_index("rooms").to_parquet(path)  # index=True by default
    assert "rooms" in io.read_parquet(path).columns
    assert not any(c.startswith("__index_level_") for c in io.read_parquet(path).columns)
