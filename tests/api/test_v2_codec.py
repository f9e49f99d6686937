"""The V2 codec reads the same rows as /predict, its bulk check agrees with the exact path, and
its refusals name the input and the problem without echoing values."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.records import Parser
from api.schemas import request_model
from api.state import read_card
from api.v2.checked import TensorError
from api.v2.codec import V2Codec
from tests.support.api import v2_tensors as tensors

MAX_BATCH = 8


def codec(model_dir: Path) -> V2Codec:
    return V2Codec(read_card(model_dir), MAX_BATCH)


def body(inputs: list[dict[str, Any]], **extra: Any) -> bytes:
    return json.dumps({"inputs": inputs, **extra}).encode()


def normal(rows: Any) -> list[tuple[Any, ...]]:
    """JSON integers stay integers in both readers; the model sees floats either way."""
    return [tuple(float(v) if type(v) is int else v for v in row) for row in rows]


def error(c: V2Codec, data: bytes) -> TensorError:
    with pytest.raises(TensorError) as caught:
        c.read(data)
    return caught.value


def test_a_record_reads_the_same_as_predict(mixed_dir: Path) -> None:
    card = read_card(mixed_dir)
    parser = Parser(request_model(card, MAX_BATCH), card.features, MAX_BATCH)
    records = [
        {"size": None, "color": None, "flag": True},
        {"size": 3, "color": "never-seen", "flag": False},
        {"size": 1e300, "color": "red", "flag": False},
    ]
    predict = parser.parse(json.dumps({"records": records}).encode()).rows
    v2, _ = codec(mixed_dir).read(body(tensors(mixed_dir, records)))
    assert normal(v2.rows) == normal(predict)
    sizes = v2.floats([0])[:, 0]
    assert np.isnan(sizes[0]) and sizes[1:].tolist() == [3.0, 1e300]


@pytest.mark.parametrize("bundle", ["model_dir", "mixed_dir"])
def test_the_bulk_check_takes_the_usual_requests(
    bundle: str, request: pytest.FixtureRequest
) -> None:
    """Else every request would take the exact path, and the speed would silently go."""
    model_dir = request.getfixturevalue(bundle)
    c = codec(model_dir)
    record = {
        f.name: {"numeric": 1.5, "categorical": "a", "boolean": True}[f.kind] for f in c.features
    }
    for n in (1, MAX_BATCH):
        inputs = tensors(model_dir, [record] * n)
        assert c._fast(inputs) == c.checked(inputs)
        assert c._fast(inputs[::-1]) == c.checked(inputs)
    nullable = [t for t, f in zip(tensors(model_dir, [record]), c.features) if not f.nullable]
    assert c._fast(nullable) == c.checked(nullable)


def test_shapes_orders_and_left_out_nullable_inputs_read_alike(mixed_dir: Path) -> None:
    c = codec(mixed_dir)
    plain = tensors(mixed_dir, [{"size": 1.5, "color": "red", "flag": True}] * 2)
    expected = c.read(body(plain))[0].rows
    assert expected == [(1.5, "red", True)] * 2
    column = [dict(t, shape=[2, 1], data=[[v] for v in t["data"]]) for t in plain]
    assert c.read(body(column))[0].rows == expected  # [n, 1], nested
    assert c.read(body([dict(t, shape=[2, 1]) for t in plain]))[0].rows == expected  # flat
    assert c.read(body(plain[::-1]))[0].rows == expected  # any order
    assert c.read(body(plain[2:]))[0].rows == [(None, None, True)] * 2  # nullable left out


def test_one_tensor_of_all_features_for_all_numeric_models(model_dir: Path) -> None:
    c = codec(model_dir)
    names = [f.name for f in read_card(model_dir).features]
    rows = [[float(i + j) for j in range(len(names))] for i in range(3)]
    per_feature = c.read(body(tensors(model_dir, [dict(zip(names, r)) for r in rows])))[0].rows
    flat = {"name": "input-0", "shape": [3, len(names)], "datatype": "FP32"}
    assert normal(c.read(body([dict(flat, data=sum(rows, []))]))[0].rows) == per_feature
    assert normal(c.read(body([dict(flat, data=rows)]))[0].rows) == per_feature
    wrong = error(c, body([dict(flat, shape=[3, 2], data=[0.0] * 6)]))
    assert f"[n, {len(names)}]" in str(wrong) and "'input-0'" in str(wrong)


def test_no_single_tensor_form_when_a_feature_is_not_a_number(mixed_dir: Path) -> None:
    bad = error(
        codec(mixed_dir),
        body([{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1.0, 2.0, 3.0]}]),
    )
    assert "unknown input 'x'" in str(bad) and "'size', 'color', 'flag'" in str(bad)
    assert bad.reason == "unknown_field"


MARKER = "a-value-to-not-echo"


@pytest.mark.parametrize(
    ("change", "words", "reason"),
    [
        ({"datatype": "BYTES"}, ["input 'size'", "datatype 'BYTES'", "numeric", "FP64"], None),
        ({"data": [MARKER]}, ["input 'size'", "value 0 is a string", "numbers or null"], None),
        ({"data": [True]}, ["input 'size'", "value 0 is a boolean"], None),
        ({"shape": [2]}, ["input 'size'", "shape [2] holds 2 values, data 1"], None),
        ({"shape": [1, 2]}, ["input 'size'", "[n] or [n, 1]"], None),
        ({"shape": [9], "data": [1.0] * 9}, ["9 rows", "1 to 8", "MAX_BATCH"], "batch_size"),
        ({"shape": [True]}, ["shape must be a list of integers"], None),
        ({"datatype": "INT64", "data": [1.5]}, ["INT64", "not whole"], None),
        # Integers out of their datatype's range (were accepted, or called "not whole").
        ({"datatype": "INT64", "data": [2**63]}, ["out of the range of INT64"], None),
        ({"datatype": "INT64", "data": [2**70]}, ["out of the range of INT64"], None),
        ({"datatype": "INT8", "data": [-129]}, ["out of the range of INT8 (-128 … 127)"], None),
        ({"datatype": "UINT8", "data": [-1]}, ["out of the range of UINT8 (0 … 255)"], None),
        ({"datatype": "UINT64", "data": [2**64]}, ["out of the range of UINT64"], None),
        ({"parameters": {"binary_data_size": 8}}, ["binary tensor data"], "malformed_json"),
        ({"parameters": {"a": [1]}}, ["parameters must be an object of strings"], None),
        ({"extra": 1}, ["input 'size' has unknown keys 'extra'"], "unknown_field"),
    ],
)
def test_bad_tensors_are_named(
    mixed_dir: Path, change: dict[str, Any], words: list[str], reason: str | None
) -> None:
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}])
    inputs[0] = {**inputs[0], **change}
    bad = error(codec(mixed_dir), body(inputs))
    for word in words:
        assert word in str(bad)
    assert MARKER not in str(bad)
    assert bad.reason == (reason or "wrong_type")


def test_integers_at_their_datatypes_limits_are_taken(mixed_dir: Path, model_dir: Path) -> None:
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}] * 3)
    for datatype, data in (("UINT8", [0, 255, None]), ("INT64", [-(2**63), 2**63 - 1, 0])):
        inputs[0] = {**inputs[0], "datatype": datatype, "data": data}
        records, _ = codec(mixed_dir).read(body(inputs))
        assert [r[0] for r in records.rows] == data
    width = len(read_card(model_dir).features)
    matrix = {"name": "x", "shape": [1, width], "datatype": "UINT16", "data": [65535] * width}
    assert len(codec(model_dir).read(body([matrix]))[0]) == 1
    bad = error(codec(model_dir), body([{**matrix, "data": [65536] * width}]))
    assert "input 'x': a value is out of the range of UINT16 (0 … 65535)" in str(bad)


@pytest.mark.parametrize(
    ("text", "words", "reason"),
    [
        (b"not json", ["malformed JSON"], "malformed_json"),
        (b'{"inputs": [{"name": "size", "data": [NaN]}]}', ["NaN", "null"], "not_finite"),
        (b'{"inputs": [{"name": "size", "data": [-Infinity]}]}', ["NaN"], "not_finite"),
        (b'{"inputs": [{"name": "size", "data": [1e999]}]}', ["Infinity"], "not_finite"),
        (b"[]", ["inference request"], "wrong_type"),
        (b'{"inputs": []}', ['"inputs" must be a non-empty list'], "missing_field"),
        (b'{"inputs": [1]}', ['inputs[0] must be an object with a string "name"'], None),
        (b'{"inputs": [{"name": "size"}]}', ["has no shape, datatype, data"], None),
        (b'{"inputs": [], "input": []}', ["unknown keys 'input'"], "unknown_field"),
        (b'{"id": 42, "inputs": [{}]}', ['"id" must be a string'], "wrong_type"),
    ],
)
def test_bad_requests_are_named(
    mixed_dir: Path, text: bytes, words: list[str], reason: str | None
) -> None:
    bad = error(codec(mixed_dir), text)
    for word in words:
        assert word in str(bad)
    assert bad.reason == (reason or "missing_field")


def test_missing_twice_and_uneven_inputs(mixed_dir: Path) -> None:
    c = codec(mixed_dir)
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}])
    missing = error(c, body(inputs[:2]))
    assert "missing inputs 'flag'" in str(missing) and missing.reason == "missing_field"
    assert "given twice" in str(error(c, body([*inputs, inputs[0]])))
    uneven = [*inputs[:2], {**inputs[2], "shape": [2], "data": [True, False]}]
    assert "has 2 rows, the others 1" in str(error(c, body(uneven)))
    null = [*inputs[:2], {**inputs[2], "data": [None]}]
    assert "value 0 is null, and the feature is not nullable" in str(error(c, body(null)))


def test_outputs_are_chosen_and_the_id_comes_back(mixed_dir: Path) -> None:
    c = codec(mixed_dir)
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}] * 2)
    records, reply = c.read(body(inputs, id="abc", outputs=[{"name": "probabilities"}]))
    answer = json.loads(reply(np.array([[0.25, 0.75], [0.5, 0.5]]), True, ["a", "b"]))
    assert answer["id"] == "abc" and answer["model_name"] == read_card(mixed_dir).name
    assert answer["outputs"] == [
        {
            "name": "probabilities",
            "datatype": "FP64",
            "shape": [2, 2],
            "data": [0.25, 0.75, 0.5, 0.5],
        }
    ]
    _, reply = c.read(body(inputs))
    every = json.loads(reply(np.array([[0.25, 0.75], [0.5, 0.5]]), True, ["a", "b"]))["outputs"]
    label, _, ids = every
    assert label == {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["yes", "no"]}
    assert ids == {"name": "prediction_id", "datatype": "BYTES", "shape": [2], "data": ["a", "b"]}
    _, reply = c.read(body(inputs, outputs=[{"name": "prediction_id"}]))
    only = json.loads(reply(np.array([[0.25, 0.75], [0.5, 0.5]]), True, ["a", "b"]))["outputs"]
    assert [o["name"] for o in only] == ["prediction_id"] and only[0]["data"] == ["a", "b"]
    for outputs, word in (([{"name": "value"}], "unknown"), ([{"name": "label"}] * 2, "twice")):
        assert word in str(error(c, body(inputs, outputs=outputs)))
    classify = [{"name": "label", "parameters": {"classification": 2}}]
    assert "classification extension" in str(error(c, body(inputs, outputs=classify)))


def test_regression_answers_the_value(regression_dir: Path) -> None:
    card = read_card(regression_dir)
    record = {f.name: 0.01 for f in card.features}
    _, reply = codec(regression_dir).read(body(tensors(regression_dir, [record])))
    answer = json.loads(reply(np.array([151.5]), False, ["a"]))
    assert answer["outputs"] == [
        {"name": "value", "datatype": "FP64", "shape": [1], "data": [151.5]},
        {"name": "prediction_id", "datatype": "BYTES", "shape": [1], "data": ["a"]},
    ]


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["red", "blue", "", "1.5"]),
    st.lists(st.integers(), max_size=1),
)
shapes = st.one_of(
    st.lists(st.integers(min_value=-1, max_value=MAX_BATCH + 1), min_size=1, max_size=2),
    st.sampled_from([[True], [1.0], [1, 1], [2, 1], []]),
)
datatypes = st.sampled_from(["FP64", "FP32", "INT64", "UINT8", "BYTES", "BOOL", "fp64"])


@pytest.mark.parametrize(
    "change",
    [
        {"shape": [True]},  # [True] == [1] in Python
        {"shape": [1.0]},
        {"data": "r"},  # a string has a length too
        {"data": [["red"]]},  # nested, but shape [1]
        {"datatype": "FP64"},
        {"name": "size"},
    ],
)
def test_the_bulk_check_leaves_the_odd_ones_to_the_exact_path(
    mixed_dir: Path, change: dict[str, Any]
) -> None:
    c = codec(mixed_dir)
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}])
    inputs[1] = {**inputs[1], **change}
    assert c._fast(inputs) is None
    with pytest.raises(TensorError):
        c.checked(inputs)


def test_empty_parameters_are_fine_but_not_plain(mixed_dir: Path) -> None:
    c = codec(mixed_dir)
    inputs = tensors(mixed_dir, [{"size": 1.0, "color": "red", "flag": True}])
    with_parameters = [{**inputs[0], "parameters": {}}, *inputs[1:]]
    assert c._fast(with_parameters) is None
    assert c.checked(with_parameters) == c.checked(inputs) == [(1.0, "red", True)]


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_bulk_check_never_disagrees_with_the_exact_path(
    mixed_dir: Path, data: st.DataObject
) -> None:
    """Valid tensors, some of them changed: the bulk check gives the exact path's rows, or none."""
    c = codec(mixed_dir)
    n = data.draw(st.integers(1, 3))
    record = {"size": 1.0, "color": "red", "flag": True}
    plain = data.draw(st.permutations(tensors(mixed_dir, [record] * n)).map(list))
    inputs = data.draw(st.lists(st.sampled_from(plain), min_size=1, max_size=4) | st.just(plain))
    changes = {
        "name": st.sampled_from(["size", "color", "flag", "other", 1]),
        "shape": st.one_of(st.just([n, 1]), shapes),
        "datatype": datatypes,
        "data": st.one_of(
            st.lists(json_values, min_size=n, max_size=n),
            st.lists(st.lists(json_values, min_size=1, max_size=1), min_size=n, max_size=n),
            st.text(min_size=n, max_size=n),
            st.lists(json_values),
        ),
        "parameters": st.sampled_from([{}, {"binary_data_size": 8}]),
        "extra": st.just(1),
    }
    for _ in range(data.draw(st.integers(0, 3))):
        k = data.draw(st.integers(0, len(inputs) - 1))
        key = data.draw(st.sampled_from(sorted(changes)))
        inputs[k] = {**inputs[k], key: data.draw(changes[key])}
    fast = c._fast(inputs)
    try:
        exact = c.checked(inputs)
    except TensorError:
        assert fast is None, f"the bulk check took what the exact path refuses: {inputs}"
        return
    if fast is not None:
        assert normal(fast) == normal(exact)
        assert [list(map(type, r)) for r in fast] == [list(map(type, r)) for r in exact]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_valid_records_read_as_predict_reads_them(mixed_dir: Path, data: st.DataObject) -> None:
    """Any valid records: V2 tensors and a /predict body give the model the same rows."""
    card = read_card(mixed_dir)
    parser = Parser(request_model(card, MAX_BATCH), card.features, MAX_BATCH)
    size = st.one_of(
        st.none(), st.integers(-(2**53), 2**53), st.floats(allow_nan=False, allow_infinity=False)
    )
    record = st.fixed_dictionaries(
        {"size": size, "color": st.one_of(st.none(), st.text(max_size=5)), "flag": st.booleans()}
    )
    records = data.draw(st.lists(record, min_size=1, max_size=MAX_BATCH))
    predict = parser.parse(json.dumps({"records": records}).encode()).rows
    rows, _ = codec(mixed_dir).read(body(tensors(mixed_dir, records)))
    assert normal(rows.rows) == normal(predict)
