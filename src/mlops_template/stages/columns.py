"""Columns that are not features as they stand: ID-like columns and dates/times.

* An ID-like column — text or integers with a distinct value in at least 99 % of the rows
  (never floats: measurements are often all distinct) — says which row it is, not anything
  a model can learn from; preprocess leaves it out unless `preprocess.keep_ids` is true.
* A date/time column (a datetime dtype, or text in ISO 8601 such as `2024-03-01` or
  `2024-03-01T12:30:00`) becomes numeric parts — year, month, day of week, and hour when the
  times are not all midnight — instead of thousands of one-hot strings. Text that looks like
  dates in another format (`03/04/2024`: March or April?) or that only partly parses is refused
  with a message naming the column.

Only pandas and numpy here: the load stage imports this module too.
"""

from __future__ import annotations

import re

import pandas as pd

from mlops_template.core.errors import StageError

ID_SHARE = 0.99  # distinct values per row at or above which a text/integer column is an ID
MIN_ID_ROWS = 20  # below this many rows everything looks unique
SAMPLE = 500  # values looked at to decide whether a text column holds dates
DATE_SHARE = 0.9  # share of the sample that must look like dates
ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?$"
)
OTHER_DATE = re.compile(r"^\d{1,4}[./-]\d{1,2}[./-]\d{1,4}(?:[T ]\d{1,2}:\d{2}.*)?$")
PARTS = ("year", "month", "dayofweek", "hour")
NUMBER_SHARE = 0.9  # share of a text column's distinct values that are numbers: a number column
MANY_NUMBERS = 50  # distinct numbers past which a text column can't be meant as categories
DECIMAL_COMMA = r"[-+]?\d*,\d+"  # 0,25 or 1,000: a decimal comma or a thousands separator


def _is_text(column: pd.Series) -> bool:
    return bool(pd.api.types.is_object_dtype(column) or pd.api.types.is_string_dtype(column))


def id_like(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    """Text or integer columns (not in `exclude`) with a distinct value in ≥ 99 % of the rows."""
    rows = len(frame)
    if rows < MIN_ID_ROWS:
        return []
    found = []
    for name in frame.columns:
        column = frame[name]
        if name in exclude or pd.api.types.is_bool_dtype(column):
            continue
        if not (pd.api.types.is_integer_dtype(column) or _is_text(column)):
            continue
        if _is_text(column) and date_like(column):
            continue
        if column.nunique(dropna=True) >= ID_SHARE * rows:
            found.append(str(name))
    return found


def _sample(column: pd.Series) -> list[str]:
    present = column.dropna()
    return [str(v).strip() for v in present.iloc[:SAMPLE].tolist()]


def date_like(column: pd.Series) -> bool:
    """A datetime column, or text whose values look like dates in ISO 8601."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if not _is_text(column):
        return False
    sample = _sample(column)
    return bool(sample) and sum(bool(ISO.match(v)) for v in sample) >= DATE_SHARE * len(sample)


def refuse_other_dates(frame: pd.DataFrame) -> None:
    """Text columns that look like dates in a non-ISO format: refused, naming them."""
    for name in frame.columns:
        column = frame[name]
        if not _is_text(column) or date_like(column):
            continue
        sample = _sample(column)
        if sample and sum(bool(OTHER_DATE.match(v)) for v in sample) >= DATE_SHARE * len(sample):
            raise StageError(
                f"column '{name}': looks like dates in a format that can be read more than one "
                f"way (e.g. {sample[0]!r}); write them as ISO 8601 (2024-03-01 or "
                "2024-03-01T12:30:00) to use their parts, or drop the column"
            )


def _numeric_share(values: pd.Series) -> float:
    """Share of `values` (text) that read as numbers, with a decimal point or comma."""
    if not len(values):
        return 0.0
    numbers = pd.to_numeric(values, errors="coerce").notna() | values.str.fullmatch(DECIMAL_COMMA)
    return float(numbers.mean())


def refuse_mixed_numbers(frame: pd.DataFrame, where: str) -> None:
    """StageError for a text column whose distinct values are numbers but for a few ('n/a',
    '-', '1,234', '12%'), or numbers with a decimal comma ('0,25'): read as text, each number
    would become a category of its own, or the column an ID."""
    for name in frame.columns:
        column = frame[name]
        if not _is_text(column) or date_like(column):
            continue
        distinct = pd.Series(pd.unique(column.dropna()), dtype=object).astype(str).str.strip()
        if _numeric_share(distinct.iloc[:SAMPLE]) < NUMBER_SHARE:
            continue  # words, codes: a glance at the first distinct values tells
        values = pd.Series(pd.unique(distinct), dtype=object)
        numbers = pd.to_numeric(values, errors="coerce").notna()
        comma = ~numbers & values.str.fullmatch(DECIMAL_COMMA)
        count = int(numbers.sum() + comma.sum())
        if count == numbers.sum() == len(values):
            continue  # numbers written as text (codes, zip codes): categories
        if count <= MANY_NUMBERS or count < NUMBER_SHARE * len(values):
            continue
        if 2 * int(comma.sum()) > len(values):
            raise StageError(
                f"{where}: column '{name}' holds numbers written with a comma (e.g. "
                f"{values[comma].iloc[0]!r}); write them as plain numbers: a decimal point, "
                "no thousands separator (1234.5)"
            )
        others = ", ".join(repr(v) for v in values[~numbers].iloc[:4])
        raise StageError(
            f"{where}: column '{name}' holds numbers but {int((~numbers).sum()):,} of its "
            f"{len(values):,} distinct values are not ({others}); write them as plain numbers "
            "(1234.5, not '1,234.5' or '12%') and leave missing cells empty"
        )


def parse_dates(column: pd.Series, name: str) -> pd.Series:
    """`column` as UTC datetimes; StageError naming the column if a present value won't parse."""
    if pd.api.types.is_datetime64_any_dtype(column):
        parsed = column
        if getattr(parsed.dt, "tz", None) is not None:
            parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
        return parsed
    parsed = pd.to_datetime(column, format="ISO8601", errors="coerce", utc=True)
    bad = parsed.isna() & column.notna()
    if bad.any():
        example = column[bad].iloc[0]
        raise StageError(
            f"column '{name}': {int(bad.sum())} value(s) are not ISO 8601 dates "
            f"(e.g. {str(example)[:40]!r}); fix them or drop the column"
        )
    return parsed.dt.tz_localize(None)


def date_columns(frame: pd.DataFrame, exclude: tuple[str, ...] = ()) -> list[str]:
    refuse_other_dates(frame.drop(columns=[c for c in exclude if c in frame.columns]))
    return [str(c) for c in frame.columns if c not in exclude and date_like(frame[c])]


def date_parts(frame: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """Replace each date column of `frame` (in place) by its numeric parts; {column: parts}."""
    made: dict[str, list[str]] = {}
    for name in columns:
        when = parse_dates(frame[name], name)
        values = {
            "year": when.dt.year,
            "month": when.dt.month,
            "dayofweek": when.dt.dayofweek,
            "hour": when.dt.hour,
        }
        if not (values["hour"].fillna(0) != 0).any():
            del values["hour"]
        at = list(frame.columns).index(name)
        parts: list[str] = []
        for part, series in values.items():
            new = f"{name}_{part}"
            if new in frame.columns:
                raise StageError(f"column '{name}': can't add its part '{new}', a column has it")
            frame.insert(at + len(parts) + 1, new, series.astype("float64"))
            parts.append(new)
        del frame[name]
        made[name] = parts
    return made
