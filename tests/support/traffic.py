"""/predict traffic shaped by a model card: like the training data, or drifted; sent once or
fed continuously."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np

from tests.support.net import http_json


def records(
    card: Mapping[str, Any], n: int, drifted: bool = False, seed: int = 0
) -> list[dict[str, Any]]:
    """`n` /predict records for the model card. Normal: each feature drawn bin by bin with the
    training proportions of its drift reference (so PSI stays near 0). Drifted: every numeric
    value beyond the training maximum (the last bin) and every categorical value the rarest
    category, as after an upstream unit change."""
    rng = np.random.default_rng(seed)
    reference = card["drift_reference"]["features"]
    columns: dict[str, list[Any]] = {}
    for feature in card["features"]:
        name, ref = feature["name"], reference[feature["name"]]
        shares = np.asarray(ref["proportions"], dtype=float)
        if ref["kind"] == "numeric":
            edges = [float(e) for e in ref["edges"]]
            spread = (edges[-1] - edges[0]) or 1.0
            low = min(feature.get("minimum") or edges[0] - spread, edges[0] - 1e-9)
            high = max(feature.get("maximum") or edges[-1] + spread, edges[-1] + 1e-9)
            bounds = [low, *edges, high]
            if drifted:
                values = rng.uniform(high, high + spread, n)
            else:
                bins = rng.choice(len(shares), size=n, p=shares / shares.sum())
                lo = np.asarray(bounds)[bins]
                hi = np.asarray(bounds)[bins + 1]
                values = lo + (hi - lo) * rng.uniform(0.05, 0.95, n)
            column: list[Any] = [float(v) for v in values]
            if feature["kind"] == "boolean":
                column = [v > 0.5 for v in column]
        else:
            categories = [str(c) for c in ref["categories"]]
            if drifted:
                column = [categories[int(np.argmin(shares))]] * n
            else:
                picks = rng.choice(len(categories), size=n, p=shares / shares.sum())
                column = [categories[i] for i in picks]
            column = ["unseen-category" if c == "__other__" else c for c in column]
            if feature["kind"] == "boolean":
                column = [c.lower() == "true" for c in column]
        missing = float(ref.get("missing") or 0.0)
        if feature.get("nullable") and missing and not drifted:
            column = [None if rng.random() < missing else v for v in column]
        columns[name] = column
    return [{name: columns[name][i] for name in columns} for i in range(n)]


def send(api_url: str, rows: list[dict[str, Any]], batch: int = 50) -> list[Any]:
    """POST the rows to /predict in batches; every answer must be 200. Returns the answers."""
    answers = []
    for start in range(0, len(rows), batch):
        status, body = http_json(f"{api_url}/predict", {"records": rows[start : start + batch]})
        assert status == 200, f"/predict answered {status}: {body}"
        answers.append(body)
    return answers


class Feeder:
    """Sends `rows` to /predict in small batches from a background thread, round and round,
    until the `with` block ends.

    What a test checks over a sliding window (the drift rules' 1m window in the stack tests)
    must not depend on how long the checks before it took: on a loaded machine a one-off send
    slides out of the window. A feeder keeps the window full of the traffic the test means.
    """

    def __init__(self, api_url: str, rows: list[dict[str, Any]], batch: int = 20) -> None:
        self.api_url, self.rows, self.batch = api_url, rows, batch
        self.stop = threading.Event()
        self.sent = 0
        self.error: str | None = None
        self.thread = threading.Thread(target=self._run, name="feeder", daemon=True)

    def __enter__(self) -> Feeder:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert self.error is None, self.error

    def _run(self) -> None:
        start = 0
        while not self.stop.is_set():
            body = {"records": self.rows[start : start + self.batch]}
            try:
                status, answer = http_json(f"{self.api_url}/predict", body)
            except OSError as exc:
                self.error = f"/predict failed: {exc}"
                return
            if status != 200:
                self.error = f"/predict answered {status}: {answer}"
                return
            self.sent += len(body["records"])
            start = (start + self.batch) % max(len(self.rows) - self.batch, 1)
            self.stop.wait(0.2)
