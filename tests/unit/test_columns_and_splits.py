"""Which columns are features (IDs, dates), cleaning guards and the splits, on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops_template.core import schema
from mlops_template.core.config import DataParams, PreprocessParams
from mlops_template.core.errors import StageError
from mlops_template.core.transformers import Clip
from mlops_template.stages import columns, datasets, preprocess, splits
from mlops_template.stages import features as encoding


def table(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "user": [f"u{i:05d}" for i in rng.permutation(n)],
            "account": rng.permutation(np.arange(1000, 1000 + n)),
            "height": rng.normal(170, 10, n),  # floats: all distinct, never an ID
            "rooms": rng.integers(1, 6, n),
            "city": rng.choice(["a", "b", "c"], n),
            "label": rng.choice(["x", "y"], n),
        }
    )


def test_id_like_columns_are_text_or_integers_with_distinct_values() -> None:
    assert columns.id_like(table(), exclude=("label",)) == ["user", "account"]


def test_an_id_column_with_a_few_repeats_is_still_one_but_not_below_99_percent() -> None:
    data = table(200)
    data.loc[:1, "user"] = "u00000"  # 199 distinct of 200: 99.5 %
    assert "user" in columns.id_like(data)
    data.loc[:5, "user"] = "u00000"  # 195 of 200
    assert "user" not in columns.id_like(data)


@pytest.mark.parametrize("name", sorted(datasets.BUNDLED))
def test_no_feature_of_the_bundled_data_sets_is_taken_for_an_id(name: str) -> None:
    frame = datasets.read(name)
    assert columns.id_like(frame) == []
    assert columns.date_columns(frame) == []


def test_iso_dates_become_numeric_parts() -> None:
    frame = pd.DataFrame(
        {
            "day": ["2024-03-01", "2024-03-02", None, "2024-12-31"],
            "at": ["2024-03-01T08:30:00", "2024-03-02 23:00", "2024-03-03T00:00:00Z", None],
            "x": [1.0, 2.0, 3.0, 4.0],
        }
    )
    found = columns.date_columns(frame)
    assert found == ["day", "at"]
    made = columns.date_parts(frame, found)
    assert made == {
        "day": ["day_year", "day_month", "day_dayofweek"],  # all midnight: no hour
        "at": ["at_year", "at_month", "at_dayofweek", "at_hour"],
    }
    assert list(frame.columns) == [*made["day"], *made["at"], "x"]
    assert frame["day_dayofweek"].tolist()[:2] == [4.0, 5.0]  # Friday, Saturday
    assert np.isnan(frame["day_year"][2])
    assert frame["at_hour"].tolist()[:3] == [8.0, 23.0, 0.0]
    assert all(frame[c].dtype == np.float64 for c in frame.columns)


def test_dates_in_an_ambiguous_format_are_refused_naming_the_column() -> None:
    frame = pd.DataFrame({"when": ["03/04/2024", "11/05/2024"] * 10, "x": range(20)})
    with pytest.raises(StageError, match=r"column 'when': looks like dates .*ISO 8601"):
        columns.date_columns(frame)


def test_a_date_column_with_a_bad_value_is_refused_naming_it() -> None:
    values = [f"2024-01-{d:02d}" for d in range(1, 29)] + ["soon", "2024-02-30"]
    with pytest.raises(StageError, match=r"column 'due': 2 value\(s\) are not ISO 8601 dates"):
        columns.date_parts(pd.DataFrame({"due": values}), ["due"])


def test_feature_columns_leave_out_ids_and_the_group_column_unless_kept() -> None:
    data = table()
    names, ignored = preprocess.feature_columns(data, "label", PreprocessParams())
    assert names == ["height", "rooms", "city"] and ignored == ["user", "account"]
    grouped = PreprocessParams(split="group", split_column="city", keep_ids=True)
    names, ignored = preprocess.feature_columns(data, "label", grouped)
    assert names == ["user", "account", "height", "rooms"] and ignored == ["city"]


def test_cleaning_that_removes_most_rows_stops_with_the_numbers() -> None:
    data = pd.concat([table(40)] * 10, ignore_index=True)
    data.loc[:49, "label"] = None  # unlabelled rows are counted apart, not as removed
    frame, done = splits.clean(data, "label", "classification", dedupe=True)
    assert (done.rows, done.unlabelled, done.labelled, done.kept) == (400, 50, 350, len(frame))
    with pytest.raises(StageError) as info:
        splits.check_cleaning(done, "label", PreprocessParams(dedupe=True))
    message = str(info.value)
    assert f"remove {done.duplicates:,} of 350 labelled rows" in message
    assert "preprocess.max_dropped 0.5" in message and "\n" not in message
    splits.check_cleaning(done, "label", PreprocessParams(dedupe=True, max_dropped=1.0))


def test_infinite_regression_labels_are_removed_and_counted() -> None:
    data = pd.DataFrame({"x": range(10), "y": [1.0, np.inf, 3, -np.inf, 5, 6, 7, 8, 9, None]})
    frame, done = splits.clean(data, "y", "regression", dedupe=False)
    assert (done.unlabelled, done.invalid, done.kept) == (1, 2, 7)
    assert np.isfinite(frame["y"]).all()


def test_a_split_smaller_than_min_rows_stops_with_the_sizes() -> None:
    data = table(60)
    parts = splits.split(data, "label", "classification", PreprocessParams())
    _, done = splits.clean(data, "label", "classification", dedupe=False)
    with pytest.raises(StageError, match=r"-> train 38 / val 10 / test 12; every split needs"):
        splits.check_sizes(parts, done, DataParams(min_rows=20))
    splits.check_sizes(parts, done, DataParams(min_rows=10))


def test_group_split_keeps_each_group_on_one_side() -> None:
    rng = np.random.default_rng(4)
    data = pd.DataFrame(
        {"customer": rng.integers(0, 50, 1000), "label": rng.choice(["a", "b"], 1000)}
    )
    parts = splits.split(
        data, "label", "classification", PreprocessParams(split="group", split_column="customer")
    )
    sides = [set(data["customer"].iloc[p]) for p in (parts.train, parts.val, parts.test)]
    assert not (sides[0] & sides[1]) and not (sides[0] & sides[2]) and not (sides[1] & sides[2])
    assert sum(len(p) for p in (parts.train, parts.val, parts.test)) == 1000


def test_time_split_tests_on_the_latest_rows() -> None:
    stamps = pd.date_range("2024-01-01", periods=100, freq="D").strftime("%Y-%m-%d")
    data = pd.DataFrame(
        {"day": np.random.default_rng(0).permutation(stamps), "label": ["a", "b"] * 50}
    )
    p = PreprocessParams(split="time", split_column="day", test_size=0.2, val_size=0.25)
    parts = splits.split(data, "label", "classification", p)
    day = data["day"]
    assert (len(parts.train), len(parts.val), len(parts.test)) == (60, 20, 20)
    assert day.iloc[parts.train].max() < day.iloc[parts.val].min()
    assert day.iloc[parts.val].max() < day.iloc[parts.test].min()


def test_a_missing_split_column_is_named() -> None:
    p = PreprocessParams(split="group", split_column="shop")
    with pytest.raises(StageError, match=r"preprocess.split_column: column 'shop' not found"):
        splits.split(table(), "label", "classification", p)


def test_rare_categories_share_one_column_and_the_card_keeps_only_frequent_ones() -> None:
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.choice(["a", "b", "c"], 900), [f"r{i}" for i in range(300)]])
    frame = pd.DataFrame({"shop": values, "x": rng.normal(size=1200)})
    features = schema.infer(frame)
    p = PreprocessParams(max_categories=10, min_frequency=5)
    pre = encoding.build_preprocessor(features, p).fit(schema.coerce(frame, features))
    out = pre.transform(schema.coerce(frame, features))
    assert out.shape == (1200, 1 + 3 + 1)  # x, a, b, c, other
    kept = {f.name: f for f in encoding.kept_categories(pre, features)}
    assert kept["shop"].categories == ("a", "b", "c")
    unseen = pd.DataFrame({"shop": ["zzz", "r7", None], "x": [0.0, 0.0, 0.0]})
    rows = pre.transform(schema.coerce(unseen, features))
    assert rows[:, 1:].tolist() == [[0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 1]]


def test_standardised_numbers_are_clipped() -> None:
    x = np.concatenate([np.random.default_rng(0).normal(size=999), [1000.0]])
    frame = pd.DataFrame({"x": x})
    features = schema.infer(frame)
    pre = encoding.build_preprocessor(features, PreprocessParams(clip=3.0))
    out = pre.fit_transform(schema.coerce(frame, features))
    assert out.max() == 3.0 and out.min() >= -3.0
    unclipped = encoding.build_preprocessor(features, PreprocessParams(clip=None))
    assert unclipped.fit_transform(schema.coerce(frame, features)).max() > 30


def test_clip_keeps_missing_values_and_copies_unless_told() -> None:
    x = np.array([[-9.0, np.nan], [0.5, 12.0]])
    clipped = Clip(limit=2.0).fit(x).transform(x)
    assert clipped[0, 0] == -2.0 and np.isnan(clipped[0, 1]) and clipped[1, 1] == 2.0
    assert x[0, 0] == -9.0


def test_category_index_of_values_known_unknown_missing_and_no_categories() -> None:
    from mlops_template.core import drift

    values = pd.Series(["a", None, "zz", np.nan, 1, True, "b", "nan"], dtype=object)
    index = drift.category_index(values, ["a", "b", "1", "True"])
    assert index.tolist() == [0, -1, 4, -1, 2, 3, 1, 4]
    assert drift.category_index(values, []).tolist() == [0, -1, 0, -1, 0, 0, 0, 0]
    assert drift.category_index(pd.Series([], dtype=object), ["a"]).tolist() == []


def test_a_class_without_a_training_row_is_named() -> None:
    labels = pd.Series(["a"] * 40 + ["b"] * 40 + ["rare"], name="label")
    data = pd.DataFrame({"x": range(81), "label": labels})
    p = PreprocessParams(split="time", split_column="x")  # the rare class is the latest row
    parts = splits.split(data, "label", "classification", p)
    with pytest.raises(
        StageError, match=r"class 'rare' \(1 rows\) of column 'label' is in the test"
    ):
        splits.check_classes(parts, data["label"])
    splits.check_classes(splits.split(data.head(80), "label", "classification", p), labels.head(80))
