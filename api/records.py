"""How a /predict body becomes validated records: a fast column-wise check, pydantic for the rest.

pydantic builds and validates one model object per record (about 7 µs for 30 fields), so in a
batch of 256 records it costs more than the model does. `Parser.parse` first tries a check that
accepts only bodies pydantic accepts too, with the same values:

* orjson parses the body (it refuses NaN and Infinity, and numbers too large for a double);
* the body is `{"records": [...]}` with 1 … max_batch objects, each with exactly the card's
  features (plus, if sent, any of the card's ignored columns, which are dropped);
* each column holds only the JSON types its feature allows: numbers (not booleans) for a
  numeric feature, strings for a categorical one, true/false for a boolean one, and null
  where the feature is nullable.

Anything else, every bad body among them, is validated by pydantic, whose errors name the
field and the problem. `tests/api/test_records.py` checks that both give the same records.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

import numpy as np
import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from mlops_template.core.schema import Feature

Row = Sequence[Any]  # one record's values in card feature order (None = missing)

JSON_TYPES: dict[str, frozenset[type]] = {
    "numeric": frozenset({float, int}),  # type(True) is bool, so booleans are not numbers here
    "categorical": frozenset({str}),
    "boolean": frozenset({bool}),
}


class Records:
    """Validated records in card feature order, and their float columns, computed once.

    The model and the drift metrics both need the numeric columns as a matrix; `floats`
    builds it on first use and hands the same read-only array to both.
    """

    def __init__(self, rows: Sequence[Row]) -> None:
        self.rows = rows
        self._floats: dict[tuple[int, ...], np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def floats(self, positions: Sequence[int]) -> np.ndarray:
        """The columns at `positions` as a (records, columns) float matrix; None → NaN."""
        key = tuple(positions)
        x = self._floats.get(key)
        if x is None:
            rows = self.rows
            if not (rows and key == tuple(range(len(rows[0])))):
                rows = [[r[i] for i in key] for r in rows]
            try:  # a C-level pass over all values
                x = np.fromiter(chain.from_iterable(rows), float, len(rows) * len(key))
            except TypeError:  # None among the values: np.array makes it NaN
                x = np.array(rows, dtype=float)
            x = x.reshape(len(rows), len(key))
            x.flags.writeable = False
            self._floats[key] = x
        return x

    @classmethod
    def join(cls, parts: Sequence[Records]) -> Records:
        """The records of several requests, in order."""
        if len(parts) == 1:
            return parts[0]
        return cls([row for part in parts for row in part.rows])


class Parser:
    """Validates /predict bodies against the request model built from the model card."""

    def __init__(
        self,
        request_model: type[BaseModel],
        features: list[Feature],
        max_batch: int,
        ignored: Sequence[str] = (),
    ) -> None:
        self.request_model, self.max_batch = request_model, max_batch
        self.width = len(features)
        names = [f.name for f in features]
        # Table columns that are not features (ID-like ones): accepted in a record and dropped.
        self.ignored = frozenset(ignored) - set(names)
        self.lengths = set(range(self.width, self.width + len(self.ignored) + 1))
        self.values: Callable[[dict[str, Any]], tuple[Any, ...]] | None = None
        if len(names) > 1:
            self.values = operator.itemgetter(*names)
        elif names:  # itemgetter of one name returns the value, not a 1-tuple
            name = names[0]
            self.values = lambda record: (record[name],)
        self.names = frozenset(names)
        self.allowed = [
            JSON_TYPES[f.kind] | ({type(None)} if f.nullable else set()) for f in features
        ]
        self.same_types = len(set(self.allowed)) == 1

    def parse(self, body: bytes) -> Records:
        """The records of one request body; RequestValidationError naming the field if invalid."""
        rows = self.fast(body)
        return Records(rows if rows is not None else self.validate(body))

    def fast(self, body: bytes) -> list[tuple[Any, ...]] | None:
        """The rows when the body passes the column-wise check, else None (ask pydantic)."""
        if self.values is None:
            return None
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return None
        if type(data) is not dict or len(data) != 1:
            return None
        records = data.get("records")
        if type(records) is not list or not 1 <= len(records) <= self.max_batch:
            return None
        if set(map(type, records)) != {dict}:
            return None
        lengths = set(map(len, records))
        if lengths != {self.width}:
            if not lengths <= self.lengths:
                return None
            extra = self.ignored
            if not all(len(r) == self.width or r.keys() - self.names <= extra for r in records):
                return None
        try:  # every feature present; any other key is an ignored column (checked above)
            rows = list(map(self.values, records))
        except KeyError:
            return None
        if self.same_types:
            if not set(map(type, chain.from_iterable(rows))) <= self.allowed[0]:
                return None
        elif not all(set(map(type, c)) <= a for c, a in zip(zip(*rows), self.allowed)):
            return None
        return rows

    def validate(self, body: bytes) -> list[tuple[Any, ...]]:
        """pydantic's validation: exact, and its errors name the field and the problem."""
        try:
            parsed = self.request_model.model_validate_json(body)
        except ValidationError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_input=False)]
            raise RequestValidationError(errors) from None
        width = self.width  # ignored columns' fields come after the features'
        records: list[BaseModel] = parsed.records  # type: ignore[attr-defined]
        return [tuple(r.__dict__.values())[:width] for r in records]
