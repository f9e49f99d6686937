"""A user's own table, the quirks real files have: each one reads correctly or is refused with
one line naming the file, the column and the reason (docs/pipeline.md, "Your own data")."""

from __future__ import annotations

import gzip
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from mlops_template.core import schema
from mlops_template.core.config import DataParams
from mlops_template.core.errors import StageError
from mlops_template.stages import cells, datasets, load, preprocess
from tests.support.repo import default_params

ROWS = "1.5,red,yes\n2.5,blue,no\n"


def csv(tmp_path: Path, data: bytes) -> str:
    path = tmp_path / "table.csv"
    path.write_bytes(data)
    return str(path)


def test_a_bom_crlf_and_quoted_separators_and_newlines_read_as_written(tmp_path: Path) -> None:
    data = '\ufeffx,colour,label\r\n1.5,"re,d ""x""",yes\r\n2.5,"bl\r\nue",no\r\n'
    frame = datasets.read(csv(tmp_path, data.encode()))
    assert list(frame.columns) == ["x", "colour", "label"]
    assert frame["colour"].tolist() == ['re,d "x"', "bl\r\nue"]
    assert frame["x"].tolist() == [1.5, 2.5]


def test_a_separator_ending_every_line_adds_no_column(tmp_path: Path) -> None:
    data = "x,colour,label,\n" + ROWS.replace("\n", ",\n")
    frame = datasets.read(csv(tmp_path, data.encode()))
    assert list(frame.columns) == ["x", "colour", "label"]


@pytest.mark.parametrize("name", ["", "   "])
def test_a_column_with_values_but_no_name_is_refused(tmp_path: Path, name: str) -> None:
    data = f"x,{name},label\n" + ROWS
    with pytest.raises(StageError, match=r"column 2 \(after 'x'\) has no name in the header"):
        datasets.read(csv(tmp_path, data.encode()))


def test_names_lose_surrounding_spaces_and_then_must_differ(tmp_path: Path) -> None:
    frame = datasets.read(csv(tmp_path, (" x , colour, label \n" + ROWS).encode()))
    assert list(frame.columns) == ["x", "colour", "label"]
    with pytest.raises(StageError, match=r"'x' appears 2 times .*\(surrounding spaces aside\)"):
        datasets.read(csv(tmp_path, ("x ,x,label\n" + ROWS).encode()))


def test_names_pandas_reads_as_missing_stay_names(tmp_path: Path) -> None:
    frame = datasets.read(csv(tmp_path, ("x,NA,label\n" + ROWS).encode()))
    assert list(frame.columns) == ["x", "NA", "label"]


def test_latin1_is_named_with_its_fix(tmp_path: Path) -> None:
    data = "x,colour,label\n1,vért,yes\n2,blé,no\n".encode("latin-1")
    with pytest.raises(StageError, match=r"table.csv: not UTF-8 text \(byte 0xe9.*save the file"):
        datasets.read(csv(tmp_path, data))


def test_a_header_only_file_has_no_rows(tmp_path: Path) -> None:
    frame = datasets.read(csv(tmp_path, b"x,colour,label\n"))
    with pytest.raises(StageError, match="no rows"):
        load.validate(frame, DataParams(source="t.csv", target="label"))


@pytest.mark.parametrize(
    ("column", "kind"),
    [(pa.array([[1, 2], [3]]), "list<"), (pa.array([{"a": 1}, {"a": 2}]), "struct<")],
)
def test_nested_parquet_columns_are_refused_by_name(
    tmp_path: Path, column: pa.Array, kind: str
) -> None:
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0], "tags": column, "label": ["a", "b"]}), path)
    with pytest.raises(StageError, match=f"column 'tags' holds nested values \\({kind}"):
        datasets.read(str(path))


def test_dictionary_encoded_parquet_reads_as_categories(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    colour = pa.array(["red", "blue", "red"]).dictionary_encode()
    pq.write_table(pa.table({" x ": [1.0, 2.0, 3.0], "colour": colour}), path)
    frame = datasets.read(str(path))
    assert list(frame.columns) == ["x", "colour"]
    assert schema.infer(frame)[1].categories == ("blue", "red")


def labelled(n: int = 200, **columns: object) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "label": np.where(x > 0, "yes", "no"), **columns})


def validate(frame: pd.DataFrame, task: str | None = None) -> pd.DataFrame:
    return load.validate(frame, DataParams(source="t.csv", target="label", task=task))


def test_classes_written_in_two_cases_are_refused_and_spaces_are_not() -> None:
    frame = labelled()
    frame.loc[::7, "label"] = frame["label"].str.capitalize()
    with pytest.raises(
        StageError, match=r"column 'label' has classes '\w+' and '\w+', which differ only"
    ):
        validate(frame)
    spaced = labelled()
    spaced.loc[::7, "label"] = spaced["label"] + " "
    validate(spaced)
    assert sorted(cells.strip_labels(spaced["label"]).unique()) == ["no", "yes"]


@pytest.mark.parametrize(
    ("change", "column", "task"),
    [
        (lambda f: f.assign(label=f["x"].where(f.index % 9 > 0, 1e300)), "label", "regression"),
        (lambda f: f.assign(z=f["x"].where(f.index % 9 > 0, -1e200)), "z", None),
    ],
)
def test_numbers_whose_squares_overflow_are_refused_by_column(
    change: Callable[[pd.DataFrame], pd.DataFrame], column: str, task: str | None
) -> None:
    with pytest.raises(StageError, match=f"column '{column}' has 23 value.* as large as"):
        validate(change(labelled()), task)


def test_a_number_column_with_a_few_words_is_refused_naming_them() -> None:
    frame = labelled()
    mixed = frame["x"].round(3).astype(str)
    mixed[::20] = ["n/a", "-", "1,234", "12%", "?"] * 2
    with pytest.raises(
        StageError, match=r"column 'm' holds numbers but .* \('n/a', '-', '1,234', '12%'"
    ):
        validate(frame.assign(m=mixed))
    # codes: a few numbers among words are categories, and so are numbers written as text
    codes = np.where(frame.index % 2 == 0, "A1", frame.index.astype(str).str[-1])
    validate(frame.assign(code=codes, text=frame["x"].round(3).astype(str)))


def test_infinities_in_a_feature_become_missing_values() -> None:
    frame = labelled().assign(x=np.r_[np.inf, -np.inf, np.arange(198.0)])
    assert cells.infinities_to_missing(frame, "label") == {"x": 2}
    assert frame["x"].isna().tolist()[:3] == [True, True, False]


def test_a_column_that_gives_the_label_away_is_found() -> None:
    frame = labelled()
    rng = np.random.default_rng(1)
    frame["copy"] = frame["label"].map({"yes": "Y", "no": "N"})
    frame["kind"] = rng.choice(["a", "b", "c"], len(frame))
    frame["account"] = np.arange(len(frame))  # an ID: one row per value says nothing
    names = ["x", "copy", "kind", "account"]
    rows = np.arange(150)
    assert cells.leaks(frame, names, "label", rows, "classification") == ["copy"]
    numbers = frame.assign(label=frame["x"] * 3 + 1, twice=frame["x"] * 2, noise=rng.random(200))
    found = cells.leaks(numbers, ["twice", "noise"], "label", rows, "regression")
    assert found == ["twice"]


@pytest.mark.parametrize(
    ("labels", "task", "words"),
    [
        (["a", "b"], "classification", "text or true/false labels"),
        ([1, 2, 3, 2], "classification", "3 distinct whole-number labels"),
        (list(np.linspace(0, 1, 50)), "regression", "50 distinct numeric labels"),
    ],
)
def test_the_inferred_task_comes_with_its_reason(
    labels: list[object], task: str, words: str
) -> None:
    series = pd.Series(labels)
    assert schema.infer_task(series) == task
    assert words in schema.task_reason(series, task)


def test_preprocess_logs_the_task_infinities_and_a_leak(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """load + preprocess on a Parquet file whose names have spaces (so load can't copy it as
    it is), with infinities in a feature and a copy of the label."""
    frame = labelled(300).assign(grade=lambda f: f["label"].map({"yes": "A", "no": "B"}))
    frame["x"] = frame["x"].where(frame.index % 25 > 0, np.inf)
    frame = frame.rename(columns={"x": " x "})
    frame.to_parquet(tmp_path / "table.parquet")
    params = default_params()
    params["data"].update(source=str(tmp_path / "table.parquet"), target="label")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    caplog.set_level(logging.INFO)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        load.main()
        preprocess.main()
    assert pq.read_schema(tmp_path / "data/raw/dataset.parquet").names[:2] == ["x", "label"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "task classification (inferred from text or true/false labels)" in text
    assert "column 'x': 12 infinite value(s) taken as missing" in text
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "column 'grade' gives the label 'label' away" in warning
    doc = json.loads((tmp_path / "data/processed/schema.json").read_text())
    x = doc["features"][0]
    assert x["name"] == "x" and x["nullable"] and np.isfinite(x["maximum"])


def test_whole_number_labels_read_as_floats_are_classes_without_a_dot() -> None:
    labels = pd.Series([0.0, 1.0, 1.0, 0.0])  # pandas reads 0/1 with a missing label so
    assert cells.strip_labels(labels).tolist() == ["0", "1", "1", "0"]
    assert cells.strip_labels(pd.Series([0.5, 1.0])).tolist() == ["0.5", "1.0"]
    assert cells.strip_labels(pd.Series([1e20, 2e20])).tolist() == ["1e+20", "2e+20"]


def test_a_column_with_no_training_value_is_not_a_feature(tmp_path: Path) -> None:
    """A time split puts the rows of a column recorded only lately outside training: the
    imputer would drop it from the pipeline, which then no longer matches the card."""
    frame = labelled(300).assign(day=pd.date_range("2024-01-01", periods=300).astype(str))
    frame["late"] = frame["x"].where(frame.index > 250)
    frame.to_csv(tmp_path / "table.csv", index=False)
    params = default_params()
    params["data"].update(source=str(tmp_path / "table.csv"), target="label")
    params["preprocess"].update(split="time", split_column="day")
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp_path)
        load.main()
        preprocess.main()
    doc = json.loads((tmp_path / "data/processed/schema.json").read_text())
    assert "late" not in [f["name"] for f in doc["features"]]
    assert doc["ignored"] == ["late"]


def test_numbers_with_a_decimal_comma_are_refused(tmp_path: Path) -> None:
    """`data.sep: ";"` files often write 0,25: read as text, each number was distinct, so the
    column was taken for an ID and left out (the run then learned nothing, or less)."""
    frame = labelled(120)
    frame.to_csv(tmp_path / "t.csv", sep=";", decimal=",", index=False)
    read = datasets.read(str(tmp_path / "t.csv"), sep=";")
    with pytest.raises(StageError, match=r"column 'x' holds numbers written with a comma \(e.g. '"):
        load.validate(read, DataParams(source="t.csv", target="label", sep=";"))


def test_lines_longer_than_the_header_are_refused_not_shifted(tmp_path: Path) -> None:
    """pandas took the first column for the index: x held the colours, label the extras."""
    with pytest.raises(StageError, match="lines with more values than the header's 3 names"):
        datasets.read(csv(tmp_path, b"x,colour,label\n1.5,red,yes,E\n2.5,blue,no,F\n"))
    frame = datasets.read(csv(tmp_path, b"x,colour,label\n1.5,red,yes,\n2.5,blue,no,\n"))
    assert frame["x"].tolist() == [1.5, 2.5] and frame["label"].tolist() == ["yes", "no"]


def test_parquet_decimals_are_numbers_and_true_false_with_gaps_is_boolean(tmp_path: Path) -> None:
    """Decimals came as Decimal objects (text, then an ID column left out); true/false with a
    missing value as objects (categories, so /predict wanted the string "True")."""
    import decimal

    path = tmp_path / "t.parquet"
    price = pa.array([decimal.Decimal("1.25"), decimal.Decimal("-3.50"), None], pa.decimal128(9, 2))
    pq.write_table(pa.table({"price": price, "member": [True, None, False]}), path)
    frame = datasets.read(str(path))
    assert frame["price"].dtype == "float64" and frame["price"].tolist()[:2] == [1.25, -3.5]
    price_kind, member = schema.infer(frame)
    assert (price_kind.kind, member.kind, member.nullable) == ("numeric", "boolean", True)
    assert schema.coerce(frame, [member])["member"].tolist()[::2] == [1.0, 0.0]
    words = pd.DataFrame({"w": ["True", "no", None]})
    assert schema.infer(words)[0].kind == "categorical"


def test_a_label_with_a_class_per_row_is_refused_as_such() -> None:
    frame = labelled().assign(label=[f"u{i}" for i in range(200)])
    with pytest.raises(StageError, match="'label' has 200 distinct values in 200 labelled rows"):
        validate(frame)


def test_a_constant_number_to_predict_is_refused() -> None:
    with pytest.raises(StageError, match="column 'label' has one value: nothing to predict"):
        validate(labelled().assign(label=5.0), "regression")


@pytest.mark.parametrize(
    ("data", "what"),
    [
        ("x,label\n1,ja\n2,nein\n".encode("utf-16"), "but UTF-16 text"),
        (gzip.compress(b"x,label\n1,ja\n2,nein\n" * 50), r"but compressed \(gzip\)"),
        (b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00\xb5\xfa", r"but a zip file \(an Excel"),
    ],
)
def test_files_that_are_no_text_say_what_they_are(tmp_path: Path, data: bytes, what: str) -> None:
    with pytest.raises(StageError, match=f"table.csv: not UTF-8 text {what}"):
        datasets.read(csv(tmp_path, data))


def test_a_price_written_with_thousands_separators_is_named_as_such() -> None:
    """Read as text, it was taken for classes first: 'too many classes'."""
    frame = labelled()
    frame["label"] = [f"{1000 + 37 * i:,}" for i in range(200)]
    with pytest.raises(
        StageError, match=r"column 'label' holds numbers written with a comma \(e.g. '1,000'\)"
    ):
        validate(frame)


def test_parquet_durations_are_seconds(tmp_path: Path) -> None:
    """pandas made them timedeltas, which the pipeline took for text: one category each."""
    path = tmp_path / "t.parquet"
    waits = pd.Series(pd.to_timedelta([90, 1.5, None], unit="s"))
    pq.write_table(pa.table({"wait": pa.array(waits)}), path)
    frame = datasets.read(str(path))
    assert frame["wait"].tolist()[:2] == [90.0, 1.5] and np.isnan(frame["wait"].iloc[2])
    assert schema.infer(frame)[0].kind == "numeric"


def test_spaces_after_the_separator_are_not_part_of_the_values(tmp_path: Path) -> None:
    """`x, colour` style: ' blue' was a category no client sends, and a quoted value after a
    space was split at its comma (pandas then took the first column for the index)."""
    data = b'x, colour, label\n1.5, "red, dark", yes\n2.5, blue, no\n'
    frame = datasets.read(csv(tmp_path, data))
    assert frame.to_dict("list") == {
        "x": [1.5, 2.5],
        "colour": ["red, dark", "blue"],
        "label": ["yes", "no"],
    }
