"""Hostile model bundles made from a real trained one, as someone who can write to the DVC remote
would make them: the card's sha256 is updated, so only the type, path and size checks stand
between the file and the loader.

Each `make(name, model_dir, target, marker)` writes a bundle to `target`; the payloads that run
code write the file `marker` when they run (`live` proves they do, with skops' own loader and a
prefix rule like the one this template had: trusting every `builtins.`/`numpy.` name).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import skops.io as sio
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

TWO_GB = 2 * 1024**3


def _card(folder: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / "model_card.json").read_text())
    return data


def _write_card(folder: Path, data: dict[str, Any]) -> None:
    (folder / "model_card.json").write_text(json.dumps(data))


def _seal(folder: Path, model: bytes, name: str = "model.skops") -> None:
    """Write `model` and point the card's model_file and sha256 at it."""
    (folder / name).write_bytes(model)
    data = _card(folder)
    data["model_file"], data["sha256"] = name, hashlib.sha256(model).hexdigest()
    _write_card(folder, data)


def _node(module: str, name: str, loader: str, **extra: Any) -> dict[str, Any]:
    return {"__class__": name, "__module__": module, "__loader__": loader, **extra}


def _args(*values: Any) -> dict[str, Any]:
    """A skops tuple of JSON values (strings, None, booleans)."""
    items = [
        _node("builtins", "str", "JsonNode", content=json.dumps(v), is_json=True) for v in values
    ]
    return _node("builtins", "tuple", "TupleNode", content=items)


def _with_reduce(model: bytes, constructor: str, args: dict[str, Any]) -> bytes:
    """The model file with the pipeline's `verbose` attribute built by calling `constructor`
    (a `ConstructorFromReduceNode`: skops calls the named object with the stored arguments)."""
    source = zipfile.ZipFile(io.BytesIO(model))
    schema = json.loads(source.read("schema.json"))
    module, _, name = constructor.rpartition(".")
    call = _node(module, name, "ConstructorFromReduceNode", content=args)
    schema["content"]["content"]["verbose"] = call
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            data = json.dumps(schema).encode() if info.filename == "schema.json" else None
            target.writestr(info.filename, data if data is not None else source.read(info))
    return out.getvalue()


def _code(marker: Path) -> str:
    """Python that writes the marker file: what a real payload would replace with anything."""
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"


class _Payload:
    """Unpickling this writes the marker file (what a pickle in a model store could do)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[str]]:
        return exec, (_code(self.marker),)


def reduce_builtins_exec(src: Path, dst: Path, marker: Path) -> str:
    args = _args(_code(marker))
    _seal(dst, _with_reduce((src / "model.skops").read_bytes(), "builtins.exec", args))
    return "builtins.exec"


def reduce_numpy_load_pickle(src: Path, dst: Path, marker: Path) -> str:
    pickled = dst / "weights.npy"
    pickled.write_bytes(pickle.dumps(_Payload(marker)))
    args = _args(str(pickled), None, True)  # numpy.load(file, mmap_mode, allow_pickle)
    _seal(dst, _with_reduce((src / "model.skops").read_bytes(), "numpy.load", args))
    return "numpy.load"


def function_in_transformer(src: Path, dst: Path, marker: Path) -> str:
    """A FunctionTransformer (trusted by skops by default) holding builtins.exec as its func."""
    pipeline = sio.load(
        src / "model.skops", trusted=sio.get_untrusted_types(file=src / "model.skops")
    )
    hostile = Pipeline([("payload", FunctionTransformer(func=exec)), *pipeline.steps])
    _seal(dst, sio.dumps(hostile))
    return "builtins.exec"


def card_path_outside(src: Path, dst: Path, marker: Path) -> str:
    """model_file '../outside.skops': a valid model whose sha256 matches, outside the folder."""
    outside = dst.parent / f"{dst.name}-outside.skops"
    shutil.copyfile(src / "model.skops", outside)
    data = _card(dst)
    data["model_file"] = f"../{outside.name}"
    _write_card(dst, data)
    return "model_file"


def card_dev_zero(src: Path, dst: Path, marker: Path) -> str:
    data = _card(dst)
    data["model_file"] = "/dev/zero"
    _write_card(dst, data)
    return "model_file"


def symlink_dev_zero(src: Path, dst: Path, marker: Path) -> str:
    (dst / "model.skops").unlink()
    os.symlink("/dev/zero", dst / "model.skops")
    return "/dev/zero"


def symlink_outside(src: Path, dst: Path, marker: Path) -> str:
    """model.skops a link to a valid model (sha256 matches) in another folder."""
    outside = dst.parent / f"{dst.name}-elsewhere.skops"
    shutil.copyfile(src / "model.skops", outside)
    (dst / "model.skops").unlink()
    os.symlink(outside, dst / "model.skops")
    return "outside the model folder"


def two_gigabytes(src: Path, dst: Path, marker: Path) -> str:
    """A sparse 2 GB model file (takes no disk); reading it would take 2 GB of memory."""
    with (dst / "model.skops").open("r+b") as handle:
        handle.truncate(TWO_GB)
    return "over the limit"


def unknown_feature_kind(src: Path, dst: Path, marker: Path) -> str:
    data = _card(dst)
    data["features"][0]["kind"] = "date"
    _write_card(dst, data)
    return "features.0.kind"


def tree_out_of_bounds(src: Path, dst: Path, marker: Path) -> str:
    """A forest whose first tree's root points at a child past the end (only trusted types)."""
    _point_root_past_end(src, dst, "Tree", "left_child")
    return "out of bounds"


def boosted_tree_out_of_bounds(src: Path, dst: Path, marker: Path) -> str:
    """The same for a histogram gradient boosting model's first tree (`TreePredictor.nodes`)."""
    _point_root_past_end(src, dst, "TreePredictor", "left")
    return "out of bounds"


def _point_root_past_end(src: Path, dst: Path, kind: str, field: str) -> None:
    import numpy as np

    source = zipfile.ZipFile(io.BytesIO((src / "model.skops").read_bytes()))
    entries = {i.filename: source.read(i) for i in source.infolist()}
    schema = json.loads(entries["schema.json"])
    nodes_file = _first_nodes(schema, kind)
    nodes = np.load(io.BytesIO(entries[nodes_file]), allow_pickle=False)
    nodes[field][0] = 10**6
    buffer = io.BytesIO()
    np.save(buffer, nodes, allow_pickle=False)
    entries[nodes_file] = buffer.getvalue()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for name, data in entries.items():
            target.writestr(name, data)
    _seal(dst, out.getvalue())


def _first_nodes(schema: Any, kind: str) -> str:
    """The .npy entry holding the `nodes` array of the first `kind` (an sklearn `Tree` or a
    boosting `TreePredictor`) in the schema."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("__class__") == kind and "content" in node:
                content = node["content"]["content"]
                file: str = content["nodes"]["file"]
                return file
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    raise AssertionError(f"no {kind} in this model")


BUNDLES: dict[str, Callable[[Path, Path, Path], str]] = {
    "reduce-builtins-exec": reduce_builtins_exec,
    "reduce-numpy-load-pickle": reduce_numpy_load_pickle,
    "function-in-transformer": function_in_transformer,
    "card-path-outside": card_path_outside,
    "card-dev-zero": card_dev_zero,
    "symlink-dev-zero": symlink_dev_zero,
    "symlink-outside": symlink_outside,
    "two-gigabytes": two_gigabytes,
    "unknown-feature-kind": unknown_feature_kind,
}
# Needs a random_forest bundle as its source.
FOREST_BUNDLES: dict[str, Callable[[Path, Path, Path], str]] = {
    "tree-out-of-bounds": tree_out_of_bounds,
}
# Needs a gradient_boosting bundle as its source.
BOOSTED_BUNDLES: dict[str, Callable[[Path, Path, Path], str]] = {
    "boosted-tree-out-of-bounds": boosted_tree_out_of_bounds,
}


def make(name: str, src: Path, dst: Path, marker: Path) -> str:
    """Write hostile bundle `name` (made from the bundle in `src`) to `dst`; return a text the
    refusal's reason must contain (the type or field it names)."""
    shutil.copytree(src, dst)
    build = BUNDLES.get(name) or FOREST_BUNDLES.get(name) or BOOSTED_BUNDLES[name]
    return build(src, dst, marker)


def live(model_file: Path) -> None:
    """Load `model_file` as a prefix rule would (trusting every builtins/numpy name skops
    reports): the payload runs. Proves a hostile bundle really is hostile."""
    untrusted = sio.get_untrusted_types(file=model_file)
    assert all(t.startswith(("builtins.", "numpy.", "sklearn.", "scipy.")) for t in untrusted)
    sio.load(model_file, trusted=untrusted)
