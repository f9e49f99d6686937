"""The fast column-wise check of /predict bodies accepts only what pydantic accepts, with the
same values, and does accept the ordinary valid bodies (or the speed would silently go)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tests.support.api import example
from fastapi.exceptions import RequestValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.records import Parser, Records
from api.schemas import request_model
from api.state import read_card

MAX_BATCH = 8


def parser(model_dir: Path) -> Parser:
    card = read_card(model_dir)
    return Parser(request_model(card, MAX_BATCH), card.features, MAX_BATCH)


def normal(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """pydantic turns JSON integers into floats for numeric fields; the fast path keeps ints."""
    return [tuple(float(v) if type(v) is int else v for v in row) for row in rows]


def same_answer(p: Parser, body: bytes) -> list[tuple[Any, ...]] | None:
    """The fast path's rows (None if it passed), after checking pydantic agrees."""
    fast = p.fast(body)
    try:
        slow = p.validate(body)
    except RequestValidationError:
        assert fast is None, f"fast path accepted what pydantic refuses: {body[:300]!r}"
        return None
    if fast is not None:
        assert normal(fast) == normal(slow)
        assert [list(map(type, r)) for r in normal(fast)] == [
            list(map(type, r)) for r in normal(slow)
        ]
    return fast


@pytest.mark.parametrize("bundle", ["model_dir", "mixed_dir"])
def test_fast_path_takes_the_ordinary_valid_bodies(
    bundle: str, request: pytest.FixtureRequest
) -> None:
    model_dir = request.getfixturevalue(bundle)
    p = parser(model_dir)
    record = example(model_dir)["records"][0]
    for n in (1, MAX_BATCH):
        assert same_answer(p, json.dumps({"records": [record] * n}).encode()) is not None
    shuffled = dict(reversed(list(record.items())))  # key order does not matter
    assert same_answer(p, json.dumps({"records": [shuffled]}).encode()) is not None


def test_fast_path_takes_nulls_categories_and_booleans(mixed_dir: Path) -> None:
    p = parser(mixed_dir)
    body = {
        "records": [
            {"size": None, "color": None, "flag": True},
            {"size": 3, "color": "never-seen", "flag": False},
            {"size": 1e300, "color": "red", "flag": False},
        ]
    }
    rows = same_answer(p, json.dumps(body).encode())
    assert rows is not None
    names = [f.name for f in read_card(mixed_dir).features]
    assert [dict(zip(names, r)) for r in rows] == body["records"]


@pytest.mark.parametrize(
    "text",
    [
        '{"records": [{"size": 1, "color": "red", "flag": 1}]}',  # number for a boolean
        '{"records": [{"size": true, "color": "red", "flag": true}]}',  # boolean for a number
        '{"records": [{"size": "1", "color": "red", "flag": true}]}',  # string for a number
        '{"records": [{"size": 1, "color": 2, "flag": true}]}',  # number for a category
        '{"records": [{"size": 1, "color": "red", "flag": null}]}',  # null, not nullable
        '{"records": [{"size": 1, "color": "red"}]}',  # missing
        '{"records": [{"size": 1, "color": "red", "flag": true, "x": 1}]}',  # unknown
        '{"records": [{"size": 1, "color": "red", "flag": true}], "x": 1}',  # unknown, top
        '{"records": [{"size": 1e999, "color": "red", "flag": true}]}',  # infinity
        '{"records": [{"size": NaN, "color": "red", "flag": true}]}',  # NaN
        '{"records": []}',
        '{"records": {}}',
        "[]",
        '{"records": [1]}',
    ],
)
def test_fast_path_leaves_bad_bodies_to_pydantic(mixed_dir: Path, text: str) -> None:
    p = parser(mixed_dir)
    assert p.fast(text.encode()) is None
    with pytest.raises(RequestValidationError):
        p.parse(text.encode())


def test_duplicate_keys_last_one_wins_in_both(mixed_dir: Path) -> None:
    p = parser(mixed_dir)
    text = '{"records": [{"size": 1, "size": 2.5, "color": "red", "flag": true}]}'
    assert same_answer(p, text.encode()) == [(2.5, "red", True)]


def test_a_missing_nullable_field_is_pydantics_to_fill(mixed_dir: Path) -> None:
    p = parser(mixed_dir)
    body = b'{"records": [{"color": "red", "flag": true}]}'
    assert p.fast(body) is None
    assert p.parse(body).rows == [(None, "red", True)]


json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["red", "blue", "", "1.5", "true"]),
    st.lists(st.integers(), max_size=2),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_fast_path_never_disagrees_with_pydantic(mixed_dir: Path, data: st.DataObject) -> None:
    """Random records over the card's names and a stranger: same rows, or left to pydantic."""
    p = parser(mixed_dir)
    names = st.sampled_from(["size", "color", "flag", "other"])
    complete = st.fixed_dictionaries(
        {"size": json_values, "color": json_values, "flag": json_values}
    )
    record = st.one_of(complete, st.dictionaries(names, json_values, max_size=4))
    records = data.draw(st.lists(record, max_size=MAX_BATCH + 1))
    same_answer(p, json.dumps({"records": records}).encode())


def test_floats_are_computed_once_and_read_only() -> None:
    records = Records([(1.0, "a", None), (2, "b", 3.5)])
    x = records.floats([0, 2])
    assert x is records.floats([0, 2])
    np.testing.assert_array_equal(x, [[1.0, np.nan], [2.0, 3.5]])
    assert not x.flags.writeable
    np.testing.assert_array_equal(Records([(1.0, 2.0), (3, 4.0)]).floats([0, 1]), [[1, 2], [3, 4]])
