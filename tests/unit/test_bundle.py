"""skops bundles: byte-identical for identical fits, checked and refused when tampered with."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_template.core import bundle
from mlops_template.core.errors import ModelLoadError


def fitted() -> Pipeline:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    model = SGDClassifier(loss="log_loss", random_state=0)
    return Pipeline([("scale", StandardScaler()), ("model", model)]).fit(x, x[:, 0] > 0)


def test_same_fit_gives_the_same_bytes() -> None:
    first, second = bundle.dumps(fitted()), bundle.dumps(fitted())
    assert first == second
    for info in zipfile.ZipFile(__import__("io").BytesIO(first)).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)


def test_round_trip_predicts_the_same(tmp_path: Path) -> None:
    model = fitted()
    digest = bundle.save(model, tmp_path / "m.skops")
    loaded = bundle.load(tmp_path / "m.skops", expected_sha256=digest)
    x = np.random.default_rng(1).normal(size=(10, 3))
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_sha256_mismatch_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    bundle.save(fitted(), path)
    with pytest.raises(ModelLoadError, match="does not match the model card"):
        bundle.load(path, expected_sha256="0" * 64)


def test_corrupt_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.skops"
    path.write_bytes(b"not a zip file")
    with pytest.raises(ModelLoadError, match="not a valid skops file"):
        bundle.load(path)
    with pytest.raises(ModelLoadError, match="can't be read"):
        bundle.load(tmp_path / "missing.skops")


@pytest.mark.parametrize("kind", ["subclass", "skops default"])
def test_types_off_the_allow_list_are_refused(tmp_path: Path, kind: str) -> None:
    """A class of our own, and one skops trusts by default that no model family produces."""

    class Sneaky(LogisticRegression):  # type: ignore[misc]
        pass

    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 2))
    path = tmp_path / "m.skops"
    model = Sneaky() if kind == "subclass" else LogisticRegression()
    bundle.save(model.fit(x, x[:, 0] > 0), path)
    name = "Sneaky" if kind == "subclass" else "sklearn.linear_model._logistic.LogisticRegression"
    with pytest.raises(ModelLoadError, match=rf"not on the allow-list .*{name}"):
        bundle.load(path)
