"""Capture in process: column types of every feature kind, sampling, rolling by rows and time, a
broken sink (drops counted, predictions unaffected), retention."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.feedback.settings import CaptureSettings
from api.feedback.sink import MAX_CATEGORY_CHARS, Sink
from mlops_template.core import capture
from tests.feedback.conftest import KEY
from tests.support.api import ClientFn, TestClient, record, scrape, value, wait_for


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDBACK_KEY", KEY)


def serve(client: TestClient, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = client.post("/predict", json={"records": rows})
    assert answer.status_code == 200, answer.text
    predictions: list[dict[str, Any]] = answer.json()["predictions"]
    return predictions


@pytest.mark.parametrize("repeat", [1, 8], ids=["rows", "block"])
def test_every_feature_kind_keeps_its_type_and_missing_values(
    client_for: ClientFn, mixed_dir: Path, tmp_path: Path, repeat: int
) -> None:
    """Small requests keep their rows, big ones (>= 16 rows) only columns: same file."""
    url = str(tmp_path / "cap")
    client = client_for(mixed_dir, capture=CaptureSettings(enabled=True, url=url))
    rows = [
        {"size": 9.5, "color": "red", "flag": True},
        {"size": None, "color": None, "flag": False},
        {"size": 12, "color": "violet", "flag": True},
    ] * repeat
    served = serve(client, rows)
    client.__exit__(None, None, None)
    frame = capture.read(url, capture.PREDICTIONS)
    assert frame[capture.ID].tolist() == [p["id"] for p in served]
    assert frame[capture.PREDICTION].tolist() == [p["prediction"] for p in served]
    frame = frame.head(3)
    assert frame["size"].tolist()[::2] == [9.5, 12.0] and pd.isna(frame["size"][1])
    assert frame["color"][[0, 2]].tolist() == ["red", "violet"] and pd.isna(frame["color"][1])
    assert frame["flag"].tolist() == [True, False, True]
    assert str(frame[capture.SERVED_AT].dtype) == "datetime64[ms, UTC]"


@pytest.mark.parametrize("repeat", [1, 20], ids=["rows", "block"])
def test_a_huge_category_is_captured_cut_so_the_buffer_stays_small(
    client_for: ClientFn, mixed_dir: Path, tmp_path: Path, repeat: int
) -> None:
    """Before: a 1 MB category (within the body limit) was buffered whole, so with the sink
    slow or files rolling every minute, CAPTURE_BUFFER_ROWS rows could hold 100 GB."""
    url = str(tmp_path / "cap")
    settings = CaptureSettings(enabled=True, url=url, file_seconds=600)
    client = client_for(mixed_dir, capture=settings)
    long = "é" + "x" * (1_000_000 // repeat)
    for i in range(8):
        serve(client, [{"size": 1.0, "color": f"{i}{long}", "flag": True}] * repeat)
    stream = client.app.state.capture.streams[capture.PREDICTIONS]
    wait_for(lambda: sum(t.num_rows for t in stream.tables) == 8 * repeat)
    buffered = sum(t.nbytes for t in stream.tables)
    assert buffered < 8 * repeat * (MAX_CATEGORY_CHARS * 2 + 200), buffered
    client.__exit__(None, None, None)
    colors = capture.read(url, capture.PREDICTIONS)["color"]
    assert len(colors) == 8 * repeat
    assert {len(c) for c in colors} == {MAX_CATEGORY_CHARS}
    assert sorted({c[:3] for c in colors}) == [f"{i}éx" for i in range(8)]


def test_sampling_keeps_about_the_share_asked_for(
    client_for: ClientFn, model_dir: Path, tmp_path: Path
) -> None:
    url = str(tmp_path / "cap")
    client = client_for(model_dir, capture=CaptureSettings(enabled=True, url=url, sample=0.25))
    served = [p["id"] for _ in range(8) for p in serve(client, [record(model_dir)] * 100)]
    client.__exit__(None, None, None)
    kept = capture.read(url, capture.PREDICTIONS)[capture.ID]
    assert set(kept) <= set(served) and 120 <= len(kept) <= 280  # 200 expected of 800


def test_files_roll_by_rows(client_for: ClientFn, model_dir: Path, tmp_path: Path) -> None:
    url = tmp_path / "cap"
    settings = CaptureSettings(enabled=True, url=str(url), file_rows=100)
    client = client_for(model_dir, capture=settings)
    for _ in range(5):
        serve(client, [record(model_dir)] * 100)
    client.__exit__(None, None, None)
    files = sorted(url.glob("predictions/*/*.parquet"))
    assert len(files) == 5
    assert not list(url.rglob("*.partial"))
    assert value(scrape(client), "model_capture_files_total", stream="predictions") == 5


def test_files_roll_by_time(client_for: ClientFn, model_dir: Path, tmp_path: Path) -> None:
    """A file far from CAPTURE_FILE_ROWS is written once its first row is CAPTURE_FILE_SECONDS
    old, while the server runs (not only at shutdown)."""
    url = tmp_path / "cap"
    settings = CaptureSettings(enabled=True, url=str(url), file_rows=10_000, file_seconds=0.3)
    client = client_for(model_dir, capture=settings)

    def files(n: int) -> list[Path]:
        deadline = time.monotonic() + 15  # the writer's cycle is 0.5 s; a loaded machine waits
        while time.monotonic() < deadline:
            found = sorted(url.glob("predictions/*/*.parquet"))
            if len(found) >= n:
                return found
            time.sleep(0.05)
        raise AssertionError(f"no {n} capture file(s) after 15 s: {found}")

    first = {p["id"] for p in serve(client, [record(model_dir)] * 10)}
    (written,) = files(1)
    second = {p["id"] for p in serve(client, [record(model_dir)] * 10)}
    files(2)
    client.__exit__(None, None, None)
    assert set(pd.read_parquet(written)[capture.ID]) == first
    assert len(files(2)) == 2  # nothing was left for shutdown
    assert set(capture.read(str(url), capture.PREDICTIONS)[capture.ID]) == first | second


def test_a_broken_sink_drops_and_counts_and_never_fails_a_prediction(
    client_for: ClientFn, model_dir: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")  # every write under it fails
    settings = CaptureSettings(
        enabled=True, url=str(blocked / "cap"), buffer_rows=150, file_seconds=0.1, flush_seconds=1
    )
    client = client_for(model_dir, capture=settings)
    for _ in range(5):
        assert len(serve(client, [record(model_dir)] * 100)) == 100
    samples = scrape(client)
    dropped = value(samples, "model_capture_rows_total", stream="predictions", outcome="dropped")
    assert dropped >= 350
    client.__exit__(None, None, None)  # gives up after CAPTURE_FLUSH_SECONDS
    samples = scrape(client)
    assert (
        value(samples, "model_capture_rows_total", stream="predictions", outcome="dropped") == 500
    )
    assert value(samples, "model_capture_write_errors_total") >= 1


def test_day_folders_past_the_retention_are_deleted(tmp_path: Path) -> None:
    sink = Sink(str(tmp_path))
    for day in ("2026-01-01", "2026-03-01", "2026-03-09"):
        (tmp_path / "predictions" / f"date={day}").mkdir(parents=True)
    (tmp_path / "labels" / "date=2026-01-01").mkdir(parents=True)
    now = dt.datetime(2026, 3, 10, tzinfo=dt.timezone.utc)
    assert sink.expire(5, now) == 3
    left = sorted(p.name for p in tmp_path.glob("*/date=*"))
    assert left == ["date=2026-03-09"]
    assert sink.expire(0, now) == 0
