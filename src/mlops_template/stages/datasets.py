"""Reading a tabular data set: a bundled one by name, or a CSV/Parquet file."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path

from typing import Any

import pandas as pd

from mlops_template.core import io as fileio
from mlops_template.core.errors import StageError

log = logging.getLogger(__name__)


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


def unique_names(source: str, names: list[str], note: str = "") -> None:
    """StageError naming a column that appears more than once (pandas would silently rename
    the second to "name.1", a feature no client sends)."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise StageError(
                f"{source}: column '{name}' appears {names.count(name)} times in the header"
                f"{note}; "
                "rename all but one"
            )
        seen.add(name)


def tidy_names(source: str, frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """`frame` with the header's `names` (one per column, as written) stripped of surrounding
    spaces. A column with no name (empty or blank) is dropped if it holds no value either (a
    separator at the end of every line: `a,b,`) and refused otherwise; a name written twice,
    spaces aside, is refused."""
    keep, clean = [], []
    for at, name in enumerate(names):
        if name.strip():
            keep.append(at)
            clean.append(name.strip())
            continue
        if frame.iloc[:, at].notna().any():
            after = f" (after '{clean[-1]}')" if clean else ""
            raise StageError(
                f"{source}: column {at + 1}{after} has no name in the header; name it, or "
                "delete the column"
            )
        log.info(
            f"load: column {at + 1} has neither a name nor a value (a separator at the end "
            "of each line?): left out"
        )
    unique_names(source, clean, " (surrounding spaces aside)" if clean != names else "")
    spaced = [n for n in names if n.strip() and n != n.strip()]
    if spaced:
        shown = ", ".join(repr(n) for n in spaced[:5])
        log.info(f"load: column name(s) {shown} used without their surrounding spaces")
    if len(keep) < len(names):
        frame = frame.iloc[:, keep]
    frame.columns = clean
    return frame


def parquet_names(source: str, path: Path) -> list[str]:
    """The Parquet file's column names (no stored pandas index); StageError naming a list,
    struct or map column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stored = pq.read_schema(path)
    for field in stored:
        if pa.types.is_nested(field.type):
            raise StageError(
                f"{source}: column '{field.name}' holds nested values ({field.type}), which "
                "can't be a feature; flatten it into plain columns or drop it"
            )
    return fileio.stored_columns(stored.names)


def csv_options(sep: str) -> dict[str, Any]:
    """How every CSV is read: spaces after a separator (`a, "b, c"`) are not part of the value,
    so a quoted value after one is read as quoted and ` red` is the category `red`."""
    return {"sep": sep, "skipinitialspace": True}


# The first bytes of files that are often named .csv but are no UTF-8 text.
MAGIC = {
    b"\xff\xfe": "UTF-16 text (Excel's 'Unicode text'?); save the file as UTF-8 CSV",
    b"\xfe\xff": "UTF-16 text; save the file as UTF-8 CSV",
    b"\x1f\x8b": "compressed (gzip); decompress it first",
    b"PK\x03\x04": "a zip file (an Excel workbook?); export it as CSV (UTF-8)",
}


def _not_text(path: Path, exc: UnicodeDecodeError) -> str:
    """Why a .csv file is no UTF-8 text, from its first bytes."""
    with path.open("rb") as handle:
        start = handle.read(4)
    for magic, what in MAGIC.items():
        if start.startswith(magic):
            return f"not UTF-8 text but {what}"
    return (
        f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} is not UTF-8 there: Latin-1 or "
        "Windows-1252?); save the file as UTF-8"
    )


def _read_csv(source: str, path: Path, sep: str, width: int) -> pd.DataFrame:
    """The CSV file; StageError if a line has more values than the header has names (pandas
    would take the first column for the index and shift every name one column left)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", pd.errors.ParserWarning)
        # index_col=False: a trailing separator is fine (pandas took it for an index column)
        frame: pd.DataFrame = pd.read_csv(path, index_col=False, **csv_options(sep))
    if any(issubclass(w.category, pd.errors.ParserWarning) for w in caught):
        raise StageError(
            f"{source}: lines with more values than the header's {width} names; name the "
            "extra column(s) in the header, or remove the extra values"
        )
    return frame


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
            # the names as written: empty ones stay empty (pandas would say "Unnamed: 3")
            header = pd.read_csv(
                path, nrows=1, header=None, dtype=str, na_filter=False, **csv_options(sep)
            )
            names = [str(name) for name in header.iloc[0]] if len(header) else []
            frame = _read_csv(source, path, sep, len(names))
            if len(names) != frame.shape[1]:
                return frame  # a ragged file; load's checks name what they find
            return tidy_names(source, frame, names)
        if suffix in (".parquet", ".pq"):
            names = parquet_names(source, path)
            return tidy_names(source, fileio.read_parquet(path), names)
    except StageError:
        raise
    except pd.errors.EmptyDataError as exc:
        raise StageError(f"{source}: file is empty") from exc
    except UnicodeDecodeError as exc:
        raise StageError(f"{source}: {_not_text(path, exc)}") from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise StageError(f"{source}: can't be parsed as {suffix[1:]}: {reason}") from exc
    raise StageError(f"{source}: unsupported file type '{suffix}' (use .csv or .parquet)")
