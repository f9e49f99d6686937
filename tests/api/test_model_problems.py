"""A missing, tampered or corrupt model: the process stays up, /ready and /predict say why."""

from __future__ import annotations

import json
from pathlib import Path


from tests.support.api import ClientFn, example


def test_tampered_model_is_refused(client_for: ClientFn, tampered_dir: Path) -> None:
    client = client_for(tampered_dir)
    assert client.get("/health").status_code == 200
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "sha256" in ready.json()["reason"]
    response = client.post("/predict", json=example(tampered_dir))
    assert response.status_code == 503
    assert "sha256" in response.json()["detail"]


def test_missing_model(client_for: ClientFn, tmp_path: Path) -> None:
    client = client_for(tmp_path / "nowhere")
    ready = client.get("/ready")
    assert ready.status_code == 503
    assert "model_card.json" in ready.json()["reason"]
    predict = client.post("/predict", json={"records": [{"a": 1}]})
    assert predict.status_code == 503
    assert client.get("/model").status_code == 503


def test_corrupt_model_file(client_for: ClientFn, model_dir: Path, tmp_path: Path) -> None:
    """A file that is not a skops zip, with a card whose sha256 matches it."""
    import hashlib

    target = tmp_path / "model"
    target.mkdir()
    card = json.loads((model_dir / "model_card.json").read_text())
    (target / card["model_file"]).write_bytes(b"not a zip")
    card["sha256"] = hashlib.sha256(b"not a zip").hexdigest()
    (target / "model_card.json").write_text(json.dumps(card))
    ready = client_for(target).get("/ready")
    assert ready.status_code == 503
    assert "not a valid skops file" in ready.json()["reason"]
