"""The shared bundle fixture produces a model file and a card that describes it."""

import json
from pathlib import Path


def test_default_bundle_has_model_and_card(model_dir: Path) -> None:
    card = json.loads((model_dir / "model_card.json").read_text())
    assert (model_dir / card["model_file"]).is_file()
    assert card["task"] == "classification"
    assert card["classes"] == ["benign", "malignant"]
    assert len(card["features"]) == 30
    assert set(card["drift_reference"]["features"]) == {f["name"] for f in card["features"]}
