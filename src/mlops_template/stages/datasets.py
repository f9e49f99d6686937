"""Reading a tabular data set: a bundled one by name, or a CSV/Parquet file."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from typing import Any

import pandas as pd

from mlops_template.core import io as fileio
from mlops_template.core.errors import StageError


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-zA-Z]+", "_", name).strip("_").lower()


def _bundled(loader: str, target: str, label_names: bool) -> pd.DataFrame:
    from sklearn import datasets as skdatasets  # only for the bundled sets: a slow import

    bunch: Any = getattr(skdatasets, loader)(as_frame=True)
    frame: pd.DataFrame = bunch.frame.copy()
    frame.columns = [_snake(str(c)) for c in frame.columns]
    labels = frame.pop("target")
    if label_names:
        names = list(bunch.target_names)
        labels = labels.map(lambda i: str(names[int(i)]))
    frame[target] = labels
    return frame


# Bundled data sets ship inside scikit-learn: no download, so the demo works offline.
BUNDLED: dict[str, Callable[[], pd.DataFrame]] = {
    "breast_cancer": lambda: _bundled("load_breast_cancer", "diagnosis", True),
    "wine": lambda: _bundled("load_wine", "cultivar", True),
    "diabetes": lambda: _bundled("load_diabetes", "progression", False),
}


def unique_names(source: str, names: list[str]) -> None:
    """StageError naming a column that appears more than once (pandas would silently rename
    the second to "name.1", a feature no client sends)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise StageError(
                f"{source}: column '{name}' appears {names.count(name)} times in the header; "
                "rename all but one"
            )
        seen.add(name)


def read(source: str, sep: str = ",") -> pd.DataFrame:
    """Read `source`: a bundled data set name or a .csv/.parquet path."""
    if source in BUNDLED:
        return BUNDLED[source]()
    path = Path(source)
    if not path.is_file():
        known = ", ".join(BUNDLED)
        raise StageError(f"{source}: file not found (and not a bundled data set: {known})")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            header = pd.read_csv(path, sep=sep, nrows=1, header=None)  # the names as written
            unique_names(source, [str(name) for name in header.iloc[0]] if len(header) else [])
            return pd.read_csv(path, sep=sep)
        if suffix in (".parquet", ".pq"):
            import pyarrow.parquet as pq

            unique_names(source, list(pq.read_schema(path).names))
            return fileio.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise StageError(f"{source}: file is empty") from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StageError(f"{source}: can't be parsed as {suffix[1:]}: {reason}") from exc
    raise StageError(f"{source}: unsupported file type '{suffix}' (use .csv or .parquet)")
