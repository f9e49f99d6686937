"""The loader's allow-list (`mlops_template.core.trusted.TYPES`) holds every type a real model of
this template contains, and nothing that can run code.

Every model family × task × preprocessing option is trained by the real stages; a model holding
a type the list lacks fails here with the line to add. The family list is `config.MODELS`, so a
new family is covered as soon as params accept it.
"""

from __future__ import annotations

import importlib
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import skops.io as sio

from mlops_template.core import bundle, card, config, trusted
from tests.support.pipeline import TrainFn

FILES = Path(__file__).parents[1] / "data" / "files"

# Data sets with numeric, categorical, boolean and missing values: (source, target) per task.
DATA = {
    "classification": {"source": str(FILES / "fruit_multiclass.csv"), "target": "species"},
    "regression": {"source": str(FILES / "houses_regression.csv"), "target": "price"},
}
# Each preprocessing option that changes the transformers a model holds, as params overrides
# (clipping and infrequent-category encoding add their rows here).
PREPROCESSING: dict[str, dict[str, Any]] = {"default": {}}
# Small and fast: the types don't depend on the size of the fit.
QUICK = {"epochs": 2, "n_estimators": 3, "hidden_layers": [4]}


def names_in_file(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as archive:
        found = trusted.names_in(json.loads(archive.read("schema.json")))
    return found | set(sio.get_untrusted_types(file=path))


@pytest.mark.parametrize("option", sorted(PREPROCESSING))
@pytest.mark.parametrize("task", sorted(DATA))
@pytest.mark.parametrize("family", config.MODELS)
def test_every_type_of_a_real_model_is_on_the_list(
    train_bundle: TrainFn, family: str, task: str, option: str
) -> None:
    overrides = PREPROCESSING[option]
    model_dir = train_bundle(data=DATA[task], train={"model": family, **QUICK}, **overrides)
    preprocessor = model_dir.parent / "data" / "processed" / "preprocessor.skops"
    for path in (model_dir / "model.skops", preprocessor):
        missing = sorted(names_in_file(path) - trusted.TYPES)
        assert not missing, (
            f"{family} {task} ({option}): {path.name} holds types missing from "
            f"mlops_template.core.trusted.TYPES; add them there: {missing}"
        )
    model_card = card.read(model_dir)
    assert bundle.load_model(model_dir, model_card) is not None
    assert bundle.load(preprocessor) is not None


def resolve(name: str) -> Any:
    """The object a type name points at (the longest importable module prefix)."""
    parts = name.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise AssertionError(f"{name}: not importable")


# Builtins that are plain data: building one runs no code chosen by the file.
PLAIN_BUILTINS = {"dict", "list", "tuple", "set", "str", "int", "float", "bool", "slice", "bytes"}
FORBIDDEN_MODULES = {
    "os", "subprocess", "sys", "shutil", "socket", "io", "pickle", "marshal", "importlib",
    "operator", "functools", "runpy", "code", "ctypes", "types", "posix", "webbrowser",
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(trusted.TYPES))
def test_the_list_holds_only_classes_that_run_no_chosen_code(name: str) -> None:
    obj = resolve(name)
    assert isinstance(obj, type), f"{name} is not a class (a function would be called by a file)"
    module = name.split(".")[0]
    assert module not in FORBIDDEN_MODULES, name
    if module == "builtins":
        assert name.removeprefix("builtins.") in PLAIN_BUILTINS, name
    assert module in {"builtins", "numpy", "scipy", "sklearn"}, f"{name}: a new library? review it"


CODE_RUNNERS = [
    "builtins.exec", "builtins.eval", "builtins.getattr", "builtins.type", "numpy.load",
    "operator.attrgetter", "functools.partial", "os.system", "subprocess.Popen",
]  # fmt: skip


def test_known_code_runners_are_not_on_the_list() -> None:
    assert not trusted.TYPES & set(CODE_RUNNERS)
