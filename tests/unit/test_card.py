"""The model card is one typed class: what evaluate writes, every reader reads back, and a card
that is older, newer or malformed gets a clear answer."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from mlops_template.core import card
from mlops_template.core.errors import CardError

ROOT = Path(__file__).resolve().parents[2]


def raw(model_dir: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((model_dir / card.FILE_NAME).read_text())
    return data


def write(folder: Path, data: dict[str, Any]) -> Path:
    (folder / card.FILE_NAME).write_text(json.dumps(data))
    return folder


def test_written_card_reads_back_and_round_trips(model_dir: Path, tmp_path: Path) -> None:
    model_card = card.read(model_dir)
    assert model_card.schema_version == card.SCHEMA_VERSION
    assert model_card.name == card.MODEL_NAME and model_card.model_file == "model.skops"
    card.write(model_card, tmp_path / card.FILE_NAME)
    assert (tmp_path / card.FILE_NAME).read_bytes() == (model_dir / card.FILE_NAME).read_bytes()


def test_a_version_0_card_without_the_field_is_read(model_dir: Path, tmp_path: Path) -> None:
    data = raw(model_dir)
    del data["schema_version"]
    assert card.read(write(tmp_path, data)).schema_version == 0


def test_a_newer_card_is_refused_naming_both_versions(model_dir: Path, tmp_path: Path) -> None:
    data = {**raw(model_dir), "schema_version": card.SCHEMA_VERSION + 1, "new_field": 1}
    with pytest.raises(CardError, match=rf"schema_version {card.SCHEMA_VERSION + 1} is newer"):
        card.read(write(tmp_path, data))


@pytest.mark.parametrize(
    ("change", "where"),
    [
        (lambda d: d["features"][0].update(kind="date"), "features.0.kind"),
        (lambda d: d.update(task="ranking"), "task"),
        (lambda d: d.pop("sha256"), "sha256"),
        (lambda d: d.update(sha256="../../etc/passwd"), "sha256"),
        (lambda d: d["drift_reference"]["features"].clear() or d.update(extra=1), "extra"),
        (lambda d: d.update(model_file="../model.skops"), "model_file"),
        (lambda d: d.update(model_file="/dev/zero"), "model_file"),
        (lambda d: d.update(model_file=".hidden"), "model_file"),
        (lambda d: d["features"][1].update(name=d["features"][0]["name"]), "unique"),
        (lambda d: d.update(classes=[]), "classes"),
        (lambda d: d.update(task="regression"), "regression"),
        (
            lambda d: d["drift_reference"]["features"][d["features"][0]["name"]].update(
                proportions=[1.0]
            ),
            "proportions for",
        ),
        (
            lambda d: d["drift_reference"]["features"].update(
                not_a_feature={"kind": "numeric", "edges": [], "proportions": [1], "missing": 0}
            ),
            "not a feature",
        ),
        (
            lambda d: d["drift_reference"]["features"].update(
                {d["features"][0]["name"]: {"kind": "categorical", "categories": ["a"],
                                            "proportions": [1], "missing": 0}}
            ),
            "bins don't fit",
        ),  # fmt: skip
    ],
)
def test_a_malformed_card_names_the_field(
    model_dir: Path, tmp_path: Path, change: Any, where: str
) -> None:
    data = raw(model_dir)
    change(data)
    with pytest.raises(CardError, match=rf"not a valid model card .*{where}"):
        card.read(write(tmp_path, data))


def test_unreadable_cards(tmp_path: Path) -> None:
    with pytest.raises(CardError, match="can't be read"):
        card.read(tmp_path)
    (tmp_path / card.FILE_NAME).write_text("{not json")
    with pytest.raises(CardError, match="not JSON"):
        card.read(tmp_path)


@pytest.mark.parametrize("target", ["/dev/zero", "fifo", "huge"])
def test_a_card_that_is_no_plain_file_or_too_big_is_refused_unread(
    tmp_path: Path, target: str
) -> None:
    """Reading stops at the card's size limit: /dev/zero, a FIFO (no writer: it would block)
    and a sparse file over the limit are refused without hanging or filling memory."""
    path = tmp_path / card.FILE_NAME
    if target == "fifo":
        os.mkfifo(path)
    elif target == "huge":
        with path.open("wb") as handle:
            handle.truncate(card.MAX_BYTES + 1)
    else:
        os.symlink(target, path)
    with pytest.raises(CardError, match="refused: (not a regular file|.* over the limit)"):
        card.read(tmp_path)


def test_the_published_json_schema_is_the_class() -> None:
    published = json.loads((ROOT / "docs" / "model-card.schema.json").read_text())
    assert published == card.json_schema(), (
        "docs/model-card.schema.json is stale: "
        "python -m mlops_template.core.card > docs/model-card.schema.json"
    )
