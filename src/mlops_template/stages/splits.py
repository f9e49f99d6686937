"""Cleaning and the train/validation/test split, as row positions into one table.

Splitting by positions (not by copying frames) lets the preprocess stage write each split
and fit on the training rows with one copy of the table in memory.

* Cleaning drops rows without a label (counted and reported on their own: a table may
  legitimately have many) and, only when `preprocess.dedupe` is true, duplicate rows —
  identical rows are often many real cases with the same attributes, whose counts are the
  signal. If cleaning removes more than `preprocess.max_dropped` of the labelled rows, or
  leaves fewer than `data.min_rows` in any split, the stage stops with one line naming the
  numbers: it never trains on scraps.
* `preprocess.split`: `random` (seeded, stratified for classification), `group` (all rows
  sharing a `split_column` value on one side: no customer in both train and test) or
  `time` (ordered by `split_column`: train on the past, validate on the next rows, test on
  the latest).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mlops_template.core.config import DataParams, PreprocessParams
from mlops_template.core.errors import StageError
from mlops_template.stages import columns

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cleaned:
    """What cleaning did: rows read, rows without a label, rows removed, rows kept."""

    rows: int
    unlabelled: int
    duplicates: int
    invalid: int
    kept: int

    @property
    def labelled(self) -> int:
        return self.rows - self.unlabelled


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray


def clean(
    frame: pd.DataFrame, target: str, task: str, dedupe: bool
) -> tuple[pd.DataFrame, Cleaned]:
    """Rows with a (finite, for regression) label; without duplicates only if `dedupe`."""
    rows = len(frame)
    labelled = frame[target].notna()
    unlabelled = rows - int(labelled.sum())
    keep = labelled.to_numpy().copy()
    invalid = 0
    if task == "regression":
        values = pd.to_numeric(frame[target], errors="coerce").to_numpy(dtype=float)
        finite = np.isfinite(values) | ~keep
        invalid = int((~finite).sum())
        keep &= finite
    duplicates = 0
    if dedupe:
        repeated = frame.duplicated().to_numpy() & keep
        duplicates = int(repeated.sum())
        keep &= ~repeated
    if not keep.all():
        frame = frame.loc[keep].reset_index(drop=True)
    return frame, Cleaned(rows, unlabelled, duplicates, invalid, len(frame))


def check_cleaning(done: Cleaned, target: str, p: PreprocessParams) -> None:
    """StageError when cleaning removed more than `max_dropped` of the labelled rows."""
    removed = done.duplicates + done.invalid
    if done.labelled and removed > p.max_dropped * done.labelled:
        reasons = []
        if done.duplicates:
            reasons.append(f"{done.duplicates:,} duplicate rows (preprocess.dedupe is true)")
        if done.invalid:
            reasons.append(f"{done.invalid:,} rows with an infinite '{target}'")
        raise StageError(
            f"preprocess: cleaning would remove {removed:,} of {done.labelled:,} labelled rows "
            f"({removed / done.labelled:.0%}: {'; '.join(reasons)}), more than "
            f"preprocess.max_dropped {p.max_dropped:g}; identical rows are often real cases: "
            "set preprocess.dedupe: false, or raise preprocess.max_dropped"
        )


def check_sizes(split: Split, done: Cleaned, data: DataParams) -> None:
    """StageError when a split holds fewer than data.min_rows rows."""
    sizes = {"train": len(split.train), "val": len(split.val), "test": len(split.test)}
    if min(sizes.values()) < data.min_rows:
        shown = " / ".join(f"{k} {v:,}" for k, v in sizes.items())
        raise StageError(
            f"preprocess: {done.kept:,} of {done.labelled:,} labelled rows left after cleaning "
            f"-> {shown}; every split needs at least data.min_rows = {data.min_rows} rows "
            "(more data, smaller preprocess.test_size/val_size, or a lower data.min_rows)"
        )


def check_classes(split: Split, labels: pd.Series) -> None:
    """StageError when a class of the validation or test split has no training row (the
    model could never predict it, and its metrics can't be computed)."""
    seen = set(labels.iloc[split.train].unique())
    for name, rows in (("validation", split.val), ("test", split.test)):
        missing = sorted(set(labels.iloc[rows].unique()) - seen)
        if missing:
            counts = labels.value_counts()
            shown = ", ".join(f"'{c}' ({counts[c]} rows)" for c in missing[:5])
            raise StageError(
                f"preprocess: class {shown} of column '{labels.name}' is in the {name} split "
                "but has no training row; give it more rows or leave it out of the table"
            )


def _two_way(
    positions: np.ndarray, size: float, rng: np.random.Generator, strata: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held out): a seeded shuffle holding out ceil(size × n) positions; with `strata`,
    each stratum holds out its share (largest remainders get the rounding)."""
    n = len(positions)
    n_held = min(n - 1, max(1, int(np.ceil(size * n))))
    if strata is None:
        order = rng.permutation(n)
        return positions[order[n_held:]], positions[order[:n_held]]
    _, codes = np.unique(strata, return_inverse=True)
    counts = np.bincount(codes)
    exact = counts * n_held / n
    take = np.floor(exact).astype(int)
    short = n_held - int(take.sum())
    take[np.argsort(-(exact - take), kind="stable")[:short]] += 1
    held = np.zeros(n, dtype=bool)
    for code, k in enumerate(take):
        members = np.flatnonzero(codes == code)
        held[rng.permutation(members)[:k]] = True
    rest, out = np.flatnonzero(~held), np.flatnonzero(held)
    return positions[rng.permutation(rest)], positions[rng.permutation(out)]


def random_split(labels: np.ndarray | None, n: int, p: PreprocessParams) -> Split:
    """Seeded; stratified by `labels` when given (classification)."""
    rng = np.random.default_rng(p.seed)
    rest, test = _two_way(np.arange(n), p.test_size, rng, labels)
    train, val = _two_way(rest, p.val_size, rng, labels[rest] if labels is not None else None)
    return Split(train, val, test)


def group_split(groups: pd.Series, p: PreprocessParams) -> Split:
    """Whole groups on each side; test_size and val_size are shares of the groups."""
    codes = pd.factorize(groups, use_na_sentinel=False)[0]
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    if n_groups < 3:
        raise StageError(
            f"column '{groups.name}': {n_groups} group(s); a group split needs "
            "at least 3 (one for each of train, validation and test)"
        )
    rng = np.random.default_rng(p.seed)
    rest_groups, test_groups = _two_way(np.arange(n_groups), p.test_size, rng, None)
    train_groups, val_groups = _two_way(rest_groups, p.val_size, rng, None)
    side = np.empty(n_groups, dtype=np.int8)
    side[train_groups], side[val_groups], side[test_groups] = 0, 1, 2
    of_row = side[codes]
    return Split(*(np.flatnonzero(of_row == k) for k in range(3)))


def time_split(order: pd.Series, p: PreprocessParams) -> Split:
    """Ordered by `order`: the latest test_size of the rows are test, the val_size of the rest
    before them validation, everything earlier training."""
    if order.isna().any():
        raise StageError(
            f"column '{order.name}': {int(order.isna().sum())} row(s) without a time; "
            "a time split needs one in every row"
        )
    positions = np.argsort(order.to_numpy(), kind="stable")
    n = len(positions)
    n_test = int(np.ceil(n * p.test_size))
    n_val = int(np.ceil((n - n_test) * p.val_size))
    cut_val, cut_test = n - n_test - n_val, n - n_test
    return Split(positions[:cut_val], positions[cut_val:cut_test], positions[cut_test:])


def split(frame: pd.DataFrame, target: str, task: str, p: PreprocessParams) -> Split:
    """The row positions of each split, by `p.split` (random / group / time)."""
    if p.split == "random":
        labels = frame[target].to_numpy(dtype=str) if task == "classification" else None
        return random_split(labels, len(frame), p)
    column = str(p.split_column)
    if column not in frame.columns:
        raise StageError(f"preprocess.split_column: column '{column}' not found")
    if p.split == "group":
        return group_split(frame[column], p)
    order = frame[column]
    if columns.date_like(order):
        order = columns.parse_dates(order, column)
    return time_split(order, p)
