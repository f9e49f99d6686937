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
from typing import Any

import skops.io as sio

from mlops_template.core import io as fileio
from mlops_template.core.errors import ModelLoadError

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


# Types a model of this template may contain beyond skops' defaults. Anything else in a
# file is refused on load: skops never runs code it was not told to trust.
TRUSTED_PREFIXES = ("sklearn.", "numpy.", "builtins.", "scipy.")
TRUSTED_TYPES = frozenset({"mlops_template.core.transformers.Clip"})  # the template's own steps


def load(path: Path, expected_sha256: str | None = None) -> Any:
    """Load a skops file, checking its sha256 and refusing unexpected types."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{path}: can't be read ({exc.strerror})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if expected_sha256 is not None and digest != expected_sha256:
        raise ModelLoadError(
            f"{path}: sha256 {digest[:12]}… does not match the model card's {expected_sha256[:12]}…"
        )
    try:
        untrusted = sio.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, json.JSONDecodeError, KeyError, ValueError) as exc:
        raise ModelLoadError(f"{path}: not a valid skops file ({exc})") from exc
    refused = [
        t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in TRUSTED_TYPES
    ]
    if refused:
        raise ModelLoadError(f"{path}: refusing untrusted types: {', '.join(refused)}")
    try:
        return sio.loads(data, trusted=untrusted)
    except Exception as exc:  # skops raises many types on corrupt content
        raise ModelLoadError(f"{path}: can't be loaded ({type(exc).__name__}: {exc})") from exc
