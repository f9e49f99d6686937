"""Saving and loading models with skops, byte-for-byte reproducibly.

skops stamps zip entries with the current time and names objects after their Python
`id()`; both change run to run. `dumps` fixes the times and renumbers the ids in order of
appearance, so the same fit gives the same bytes and DVC/GTO see "no change".
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import skops.io as sio

from mlops_template.core import io as fileio
from mlops_template.core import trusted
from mlops_template.core.errors import ModelLoadError

if TYPE_CHECKING:
    from mlops_template.core.card import ModelCard

_EPOCH = (1980, 1, 1, 0, 0, 0)


def _renumber(node: Any, ids: dict[int, int]) -> Any:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                out[key] = ids.setdefault(value, len(ids))
            else:
                out[key] = _renumber(value, ids)
        file = out.get("file")
        if isinstance(file, str) and file.endswith(".npy"):
            old = int(file.removesuffix(".npy"))
            out["file"] = f"{ids.setdefault(old, len(ids))}.npy"
        return out
    if isinstance(node, list):
        return [_renumber(v, ids) for v in node]
    return node


def dumps(obj: Any) -> bytes:
    """skops bytes of `obj`, identical for identical objects."""
    source = zipfile.ZipFile(io.BytesIO(sio.dumps(obj)))
    ids: dict[int, int] = {}
    schema = _renumber(json.loads(source.read("schema.json")), ids)
    entries = {"schema.json": json.dumps(schema, sort_keys=True).encode()}
    for info in source.infolist():
        if info.filename.endswith(".npy"):
            old = int(info.filename.removesuffix(".npy"))
            entries[f"{ids.setdefault(old, len(ids))}.npy"] = source.read(info)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            target.writestr(info, entries[name])
    return buffer.getvalue()


def save(obj: Any, path: Path) -> str:
    """Save `obj` to `path` atomically; return the file's sha256."""
    data = dumps(obj)
    fileio.write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


# Most bytes a model file, and the arrays packed in it, may take (MAX_MODEL_BYTES in the API).
MAX_MODEL_BYTES = 1 << 30


def _schema(data: bytes, limit: int) -> Any:
    """schema.json of a skops file, after checking the unpacked entries fit in `limit` bytes."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limit:
            raise ValueError(f"unpacks to {unpacked} bytes, over the limit of {limit}")
        return json.loads(archive.read("schema.json"))


def load(path: Path, expected_sha256: str | None = None, max_bytes: int = MAX_MODEL_BYTES) -> Any:
    """Load a skops file: check its size and sha256, refuse every type not in `trusted.TYPES`.

    The one loader for every model and preprocessor file (API, train, evaluate, drift report,
    retrain comparison). Nothing in the file runs before all its type names are known to
    be on the exact allow-list.
    """
    try:
        data = fileio.read_regular(path, max_bytes)
    except OSError as exc:
        raise ModelLoadError(f"{path}: can't be read ({exc.strerror})") from exc
    except fileio.FileRefused as exc:
        raise ModelLoadError(f"{path}: refused: {exc} (MAX_MODEL_BYTES)") from exc
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelLoadError(
            f"{path}: sha256 {digest[:12]}… does not match the model card's {expected_sha256[:12]}…"
        )
    try:
        names = trusted.names_in(_schema(data, max_bytes))
        names |= set(sio.get_untrusted_types(data=data))
    except Exception as exc:  # zipfile, json and skops raise many types on malformed content
        raise ModelLoadError(
            f"{path}: not a valid skops file ({type(exc).__name__}: {exc})"
        ) from exc
    refused = sorted(names - trusted.TYPES)
    if refused:
        raise ModelLoadError(
            f"{path}: refusing types not on the allow-list (mlops_template.core.trusted): "
            + ", ".join(refused)[:1000]
        )
    try:
        model = sio.loads(data, trusted=sorted(names))
        trusted.check_trees(model)
    except Exception as exc:  # skops raises many types on corrupt content
        raise ModelLoadError(f"{path}: can't be loaded ({type(exc).__name__}: {exc})") from exc
    return model


def model_file(model_dir: Path, card: ModelCard) -> Path:
    """The card's model file, which must be a file inside `model_dir` (links resolved)."""
    path = model_dir / card.model_file
    folder = model_dir.resolve()
    real = path.resolve()
    if real.parent != folder:
        raise ModelLoadError(
            f"{path}: model_file resolves to {real}, outside the model folder {model_dir}"
        )
    return path


def load_model(model_dir: Path, card: ModelCard, max_bytes: int = MAX_MODEL_BYTES) -> Any:
    """The verified model the card in `model_dir` describes (see `load`)."""
    return load(model_file(model_dir, card), card.sha256, max_bytes)
