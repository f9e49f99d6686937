"""The exact path for V2 tensors: each checked on its own, errors that name the input and the
problem, never a value. `api.v2.codec` takes the usual requests in bulk first and comes here
for the rest (every bad request among them); both give the same rows
(`tests/api/test_v2_codec.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

from mlops_template.core.schema import Feature

from api.codecs import InputError
from api.records import JSON_TYPES
from api.v2.tensors import ACCEPTED, DECLARED, INTEGER_RANGES, INTEGER_TYPES

Rows = list[Sequence[Any]]
NONE = type(None)
SCALARS = frozenset({str, int, float, bool})
INPUT_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})
JSON_NAMES = {float: "a number", int: "a number", str: "a string", bool: "a boolean"}
EXPECTED = {"numeric": "numbers", "categorical": "strings", "boolean": "true/false"}
BINARY = (
    "binary tensor data is not supported: send the values in JSON "
    "(tritonclient: set_data_from_numpy(array, binary_data=False))"
)


class TensorError(InputError):
    """An infer request the protocol or the model refuses (400 with `{"error": …}`)."""


def quote(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "…")


def listing(names: Sequence[str], shown: int = 10) -> str:
    more = f", … ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(map(repr, names[:shown])) + more


def parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    """`holder["parameters"]`: an object of string, number or boolean values (or absent)."""
    found = holder.get("parameters", {})
    if type(found) is not dict or not set(map(type, found.values())) <= SCALARS:
        raise TensorError(f"{where}: parameters must be an object of strings, numbers, booleans")
    return found


def check_tensor(tensor: Any, k: int) -> None:
    """The envelope of inputs[k]: an object with a string name, shape, datatype and data."""
    if type(tensor) is not dict or type(tensor.get("name")) is not str:
        raise TensorError(f'inputs[{k}] must be an object with a string "name"', "missing_field")
    where = f"input {quote(tensor['name'])}"
    absent = [key for key in ("shape", "datatype", "data") if key not in tensor]
    if absent:
        raise TensorError(f"{where} has no {', '.join(absent)}", "missing_field")
    if not tensor.keys() <= INPUT_KEYS:
        extra = sorted(tensor.keys() - INPUT_KEYS)
        raise TensorError(f"{where} has unknown keys {listing(extra)}", "unknown_field")
    if "binary_data_size" in parameters(tensor, where):
        raise TensorError(BINARY, "malformed_json")
    shape = tensor["shape"]
    if type(shape) is not list or not shape or {type(d) for d in shape} != {int}:
        raise TensorError(f"{where}: shape must be a list of integers")
    if type(tensor["datatype"]) is not str or type(tensor["data"]) is not list:
        raise TensorError(f"{where}: datatype must be a string and data an array")


def integers(where: str, datatype: str, data: Sequence[Any], types: set[type]) -> None:
    """The numbers of an integer tensor: whole, and in its datatype's range (UINT8 -1 or
    INT64 2**70 is not an INT tensor a client meant to send)."""
    numbers = [v for v in data if v is not None] if NONE in types else data
    low, high = INTEGER_RANGES[datatype]
    if numbers and (min(numbers) < low or max(numbers) > high):
        raise TensorError(f"{where}: a value is out of the range of {datatype} ({low} … {high})")
    if float in types:
        raise TensorError(f"{where}: datatype {datatype} holds a number that is not whole")


class Checker:
    """The model's features as V2 inputs, checked one tensor at a time."""

    def __init__(
        self, features: list[Feature], max_batch: int, ignored: Sequence[str] = ()
    ) -> None:
        self.features, self.max_batch = features, max_batch
        self.position = {f.name: i for i, f in enumerate(features)}
        # the card's ignored columns (IDs…): a tensor of one is accepted and dropped, as
        # /predict drops the field
        self.ignored = frozenset(ignored) - self.position.keys()
        self.allowed = [
            JSON_TYPES[f.kind] | ({NONE} if f.nullable else frozenset()) for f in features
        ]
        self.numeric = bool(features) and all(f.kind == "numeric" for f in features)

    def rows(self, inputs: list[Any]) -> Rows:
        """The rows of `inputs`, each tensor checked on its own: exact, and its errors name
        the input and the problem."""
        for k, tensor in enumerate(inputs):
            check_tensor(tensor, k)
        if self.ignored:
            inputs = [t for t in inputs if t["name"] not in self.ignored]
            if not inputs:
                raise TensorError("no input is a feature of the model", "missing_field")
        unknown = [t["name"] for t in inputs if t["name"] not in self.position]
        if not unknown:
            return self._columns(inputs)
        if len(inputs) == 1 and self.numeric:
            return self._matrix(inputs[0])
        expected = listing([f.name for f in self.features])
        raise TensorError(
            f"unknown input {quote(unknown[0])}: the model's inputs are {expected}",
            "unknown_field",
        )

    def _rows(self, n: int, where: str) -> None:
        if not 1 <= n <= self.max_batch:
            raise TensorError(
                f"{where}: {n} rows; a request holds 1 to {self.max_batch} (MAX_BATCH)",
                "batch_size",
            )

    def _columns(self, inputs: list[dict[str, Any]]) -> Rows:
        columns: list[Sequence[Any] | None] = [None] * len(self.features)
        n = -1
        for tensor in inputs:
            i = self.position[tensor["name"]]
            if columns[i] is not None:
                raise TensorError(f"input {quote(tensor['name'])} is given twice")
            values = self._column(tensor, self.features[i], self.allowed[i])
            if n >= 0 and len(values) != n:
                raise TensorError(
                    f"input {quote(tensor['name'])} has {len(values)} rows, the others {n}"
                )
            n = len(values)
            columns[i] = values
        absent = [f.name for f, c in zip(self.features, columns) if c is None and not f.nullable]
        if absent:
            raise TensorError(
                f"missing inputs {listing(absent)} (only nullable features may be left out)",
                "missing_field",
            )
        return list(zip(*(repeat(None, n) if c is None else c for c in columns)))

    def _column(self, tensor: dict[str, Any], feature: Feature, allowed: frozenset[type]) -> Any:
        where = f"input {quote(feature.name)}"
        datatype, shape, data = tensor["datatype"], tensor["shape"], tensor["data"]
        if datatype not in ACCEPTED[feature.kind]:
            raise TensorError(
                f"{where}: datatype {quote(datatype)} does not fit a {feature.kind} feature "
                f"(send {DECLARED[feature.kind]})"
            )
        if not (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1)):
            raise TensorError(f"{where}: shape {shape} is not [n] or [n, 1] (one value a row)")
        self._rows(shape[0], where)
        if len(shape) == 2 and data and type(data[0]) is list:  # [[v], [v], …]
            if set(map(type, data)) != {list} or set(map(len, data)) != {1}:
                raise TensorError(f"{where}: data of shape [n, 1] is n values or n [value]s")
            data = list(chain.from_iterable(data))
        if len(data) != shape[0]:
            raise TensorError(f"{where}: shape {shape} holds {shape[0]} values, data {len(data)}")
        types = set(map(type, data))
        if not types <= allowed:
            raise self._bad_value(feature, data, allowed)
        if datatype in INTEGER_TYPES:
            integers(where, datatype, data, types)
        return data

    def _matrix(self, tensor: dict[str, Any]) -> Rows:
        """The single [n, features] tensor of an all-numeric model, as rows."""
        width = len(self.features)
        name, datatype, shape, data = (tensor[k] for k in ("name", "datatype", "shape", "data"))
        where = f"input {quote(name)}"
        if len(shape) != 2 or shape[1] != width or datatype not in ACCEPTED["numeric"]:
            raise TensorError(
                f"{where} is not a feature; a single tensor of all features has shape "
                f"[n, {width}] and a number datatype, in the metadata's input order",
                "unknown_field",
            )
        n = shape[0]
        self._rows(n, where)
        nested = bool(data) and type(data[0]) is list  # [[row], [row], …]
        if nested and (set(map(type, data)) != {list} or set(map(len, data)) != {width}):
            raise TensorError(f"{where}: data of shape {shape} is n*{width} values or n rows")
        if len(data) != (n if nested else n * width):
            raise TensorError(f"{where}: shape {shape} holds {n * width} values")
        rows: Rows = data if nested else [data[k : k + width] for k in range(0, len(data), width)]
        types = set(map(type, chain.from_iterable(rows)))
        if not types <= {int, float, NONE}:
            raise TensorError(f"{where}: every value must be a number (null where nullable)")
        if NONE in types:
            for feature, allowed, column in zip(self.features, self.allowed, zip(*rows)):
                if not set(map(type, column)) <= allowed:
                    raise self._bad_value(feature, column, allowed)
        if datatype in INTEGER_TYPES:
            integers(where, datatype, list(chain.from_iterable(rows)), types)
        return rows

    @staticmethod
    def _bad_value(
        feature: Feature, values: Sequence[Any], allowed: frozenset[type]
    ) -> TensorError:
        k, value = next((k, v) for k, v in enumerate(values) if type(v) not in allowed)
        where = f"input {quote(feature.name)}: value {k}"
        if value is None:
            return TensorError(f"{where} is null, and the feature is not nullable")
        got = JSON_NAMES.get(type(value), "an array" if type(value) is list else "an object")
        nullable = " or null" if feature.nullable else ""
        return TensorError(f"{where} is {got}; expected {EXPECTED[feature.kind]}{nullable}")
