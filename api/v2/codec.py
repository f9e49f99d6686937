"""A V2 infer body becomes the `Records` that /predict builds; model output a V2 answer.

Column-wise and in C where it can be: orjson parses the body, each tensor's values are
type-checked as one set (the same JSON types per feature kind as /predict: numbers — not
booleans — for numeric features, strings for categorical ones, true/false for boolean ones,
`null` for a missing value where the feature is nullable), and `zip(*columns)` makes the
rows. Two request forms (docs/serving.md, "Open Inference Protocol"):

* one tensor per feature, named as the feature, shape [n] or [n, 1]; a nullable feature's
  tensor may be left out (all missing), as a nullable field may be left out of a record;
* one tensor of all features, shape [n, features] in the metadata's input order — only for
  models whose features are all numeric, where a number tensor says everything.

Errors name the input and the problem and never echo values; NaN and Infinity (not JSON)
are refused as /predict refuses them.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain, repeat
from typing import Any

import numpy as np
import operator

import orjson

from mlops_template.core.card import ModelCard
from mlops_template.core.schema import Feature

from api.codecs import InputError
from api.records import JSON_TYPES, Records
from api.v2.tensors import ACCEPTED, DECLARED, INTEGER_TYPES, LABEL, PROBABILITIES, output_names

Rows = list[Sequence[Any]]

NONE = type(None)
SCALARS = frozenset({str, int, float, bool})
REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
INPUT_KEYS = frozenset({"name", "shape", "datatype", "parameters", "data"})
OUTPUT_KEYS = frozenset({"name", "parameters"})
NAME, SHAPE, DATATYPE, DATA = map(operator.itemgetter, ("name", "shape", "datatype", "data"))
FOUR, INT, LIST = frozenset({4}), frozenset({int}), frozenset({list})
JSON_NAMES = {float: "a number", int: "a number", str: "a string", bool: "a boolean"}
EXPECTED = {"numeric": "numbers", "categorical": "strings", "boolean": "true/false"}
BINARY = (
    "binary tensor data is not supported: send the values in JSON "
    "(tritonclient: set_data_from_numpy(array, binary_data=False))"
)


class TensorError(InputError):
    """An infer request the protocol or the model refuses (400 with `{"error": …}`)."""


def _quote(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:80] + "…")


def _names(names: Sequence[str], shown: int = 10) -> str:
    more = f", … ({len(names)} in all)" if len(names) > shown else ""
    return ", ".join(map(repr, names[:shown])) + more


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        at = body.decode("utf-8", "replace")[exc.pos : exc.pos + 9]
        if at.startswith(("NaN", "Infinity")) or "infinity" in str(exc):
            raise TensorError(
                "NaN and Infinity are not JSON numbers: send finite numbers, and null for a "
                "missing value (nullable features only)",
                "not_finite",
            ) from None
        raise TensorError(f"malformed JSON: {exc}", "malformed_json") from None


def _parameters(holder: dict[str, Any], where: str) -> dict[str, Any]:
    """`holder["parameters"]`: an object of string, number or boolean values (or absent)."""
    parameters = holder.get("parameters", {})
    if type(parameters) is not dict or not set(map(type, parameters.values())) <= SCALARS:
        raise TensorError(f"{where}: parameters must be an object of strings, numbers, booleans")
    return parameters


def _check_tensor(tensor: Any, k: int) -> None:
    """The envelope of inputs[k]: an object with a string name, shape, datatype and data."""
    if type(tensor) is not dict or type(tensor.get("name")) is not str:
        raise TensorError(f'inputs[{k}] must be an object with a string "name"', "missing_field")
    where = f"input {_quote(tensor['name'])}"
    absent = [key for key in ("shape", "datatype", "data") if key not in tensor]
    if absent:
        raise TensorError(f"{where} has no {', '.join(absent)}", "missing_field")
    if not tensor.keys() <= INPUT_KEYS:
        extra = sorted(tensor.keys() - INPUT_KEYS)
        raise TensorError(f"{where} has unknown keys {_names(extra)}", "unknown_field")
    if "binary_data_size" in _parameters(tensor, where):
        raise TensorError(BINARY, "malformed_json")
    shape = tensor["shape"]
    if type(shape) is not list or not shape or {type(d) for d in shape} != {int}:
        raise TensorError(f"{where}: shape must be a list of integers")
    if type(tensor["datatype"]) is not str or type(tensor["data"]) is not list:
        raise TensorError(f"{where}: datatype must be a string and data an array")


class Reply:
    """Writes the answer of one infer request (called by `handle_many` with its rows)."""

    __slots__ = ("head", "classes", "wanted")

    def __init__(self, head: dict[str, Any], classes: list[str], wanted: tuple[str, ...]) -> None:
        self.head, self.classes, self.wanted = head, classes, wanted

    def __call__(self, result: np.ndarray, classification: bool) -> bytes:
        n = len(result)
        outputs: list[dict[str, Any]] = []
        for name in self.wanted:
            if name == LABEL:
                labels = [self.classes[b] for b in result.argmax(axis=1).tolist()]
                outputs.append({"name": name, "datatype": "BYTES", "shape": [n], "data": labels})
            else:  # probabilities (n, classes) flattened row-major, or values (n,)
                shape = [n, result.shape[1]] if name == PROBABILITIES else [n]
                data = np.ascontiguousarray(result).ravel()
                outputs.append({"name": name, "datatype": "FP64", "shape": shape, "data": data})
        return orjson.dumps({**self.head, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)


class V2Codec:
    """Reads V2 infer bodies for one model card (see the module docstring)."""

    def __init__(self, card: ModelCard, max_batch: int) -> None:
        self.card, self.max_batch = card, max_batch
        self.features = card.features
        self.position = {f.name: i for i, f in enumerate(card.features)}
        self.allowed = [
            JSON_TYPES[f.kind] | ({NONE} if f.nullable else frozenset()) for f in card.features
        ]
        self.outputs = output_names(card)
        self.names = tuple(f.name for f in card.features)
        self.declared = tuple(DECLARED[f.kind] for f in card.features)
        self.order = list(range(len(card.features)))
        self.same_types = len(set(self.allowed)) == 1
        self.numeric = bool(card.features) and all(f.kind == "numeric" for f in card.features)

    def read(self, body: bytes) -> tuple[Records, Reply]:
        data = loads(body)
        if type(data) is not dict:
            raise TensorError('the body must be an inference request: {"inputs": [...]}')
        if not data.keys() <= REQUEST_KEYS:
            extra = sorted(data.keys() - REQUEST_KEYS)
            raise TensorError(f"unknown keys {_names(extra)} in the request", "unknown_field")
        inputs = data.get("inputs")
        if type(inputs) is not list or not inputs:
            raise TensorError('"inputs" must be a non-empty list of tensors', "missing_field")
        head: dict[str, Any] = {"model_name": self.card.name, "model_version": self.card.version}
        if "id" in data:
            if type(data["id"]) is not str:
                raise TensorError('"id" must be a string')
            head["id"] = data["id"]
        _parameters(data, "the request")
        wanted = self._wanted(data.get("outputs"))
        rows = self._fast(inputs)
        if rows is not None:
            return Records(rows), Reply(head, self.card.classes, wanted)
        for k, tensor in enumerate(inputs):
            _check_tensor(tensor, k)
        unknown = [t["name"] for t in inputs if t["name"] not in self.position]
        if not unknown:
            rows = self._columns(inputs)
        elif len(inputs) == 1 and self.numeric:
            rows = self._matrix(inputs[0])
        else:
            expected = _names([f.name for f in self.features])
            raise TensorError(
                f"unknown input {_quote(unknown[0])}: the model's inputs are {expected}",
                "unknown_field",
            )
        return Records(rows), Reply(head, self.card.classes, wanted)

    def _fast(self, inputs: list[Any]) -> Rows | None:
        """The rows when every tensor has the plain form — name, shape [n], the declared
        datatype, valid values — checked in bulk; else None (`_columns` names the problem)."""
        try:  # four keys each, and they are these four (a list or string has no "name")
            if set(map(len, inputs)) != FOUR:
                return None
            names = tuple(map(NAME, inputs))
            shapes = list(map(SHAPE, inputs))
            datatypes = tuple(map(DATATYPE, inputs))
            data = list(map(DATA, inputs))
        except (KeyError, TypeError):
            return None
        shape = shapes[0]
        if type(shape) is not list or len(shape) != 1 or shapes != [shape] * len(shapes):
            return None
        n = shape[0]
        if type(n) is not int or not 1 <= n <= self.max_batch:
            return None
        if set(map(type, chain.from_iterable(shapes))) != INT:  # [True] == [1], [1.0] too
            return None
        if set(map(type, data)) != LIST or set(map(len, data)) != {n}:
            return None
        columns: Sequence[Any] = data
        if names == self.names:  # every feature in the metadata's order: the usual request
            if datatypes != self.declared:
                return None
        else:
            try:
                positions = list(map(self.position.get, names))
            except TypeError:  # a name that isn't a string
                return None
            if None in positions or len(set(positions)) != len(positions):
                return None
            if tuple(self.declared[i] for i in positions) != datatypes:  # type: ignore[index]
                return None
            given = dict(zip(positions, data))
            if any(i not in given and not f.nullable for i, f in enumerate(self.features)):
                return None
            columns = [given.get(i) or [None] * n for i in self.order]
        if self.same_types:
            if not set(map(type, chain.from_iterable(columns))) <= self.allowed[0]:
                return None
        elif not all(set(map(type, c)) <= a for c, a in zip(columns, self.allowed)):
            return None
        return list(zip(*columns))

    def _wanted(self, outputs: Any) -> tuple[str, ...]:
        if outputs is None or outputs == []:
            return self.outputs
        if type(outputs) is not list:
            raise TensorError('"outputs" must be a list of {"name": …} objects')
        names: list[str] = []
        for k, output in enumerate(outputs):
            if type(output) is not dict or type(output.get("name")) is not str:
                raise TensorError(f'outputs[{k}] must be an object with a string "name"')
            name = output["name"]
            if name not in self.outputs or name in names:
                known = _names(self.outputs)
                problem = "twice" if name in names else f"unknown: the model's outputs are {known}"
                raise TensorError(f"output {_quote(name)} is {problem}", "unknown_field")
            if not output.keys() <= OUTPUT_KEYS:
                raise TensorError(f'outputs[{k}] may only have "name" and "parameters"')
            if "classification" in _parameters(output, f"output {_quote(name)}"):
                raise TensorError("the classification extension is not supported")
            names.append(name)
        return tuple(names)

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
                raise TensorError(f"input {_quote(tensor['name'])} is given twice")
            values = self._column(tensor, self.features[i], self.allowed[i])
            if n >= 0 and len(values) != n:
                raise TensorError(
                    f"input {_quote(tensor['name'])} has {len(values)} rows, the others {n}"
                )
            n = len(values)
            columns[i] = values
        absent = [f.name for f, c in zip(self.features, columns) if c is None and not f.nullable]
        if absent:
            raise TensorError(
                f"missing inputs {_names(absent)} (only nullable features may be left out)",
                "missing_field",
            )
        return list(zip(*(repeat(None, n) if c is None else c for c in columns)))

    def _column(self, tensor: dict[str, Any], feature: Feature, allowed: frozenset[type]) -> Any:
        where = f"input {_quote(feature.name)}"
        datatype, shape, data = tensor["datatype"], tensor["shape"], tensor["data"]
        if datatype not in ACCEPTED[feature.kind]:
            raise TensorError(
                f"{where}: datatype {_quote(datatype)} does not fit a {feature.kind} feature "
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
        if float in types and datatype in INTEGER_TYPES:
            raise TensorError(f"{where}: datatype {datatype} holds a number that is not whole")
        return data

    def _matrix(self, tensor: dict[str, Any]) -> Rows:
        """The single [n, features] tensor of an all-numeric model, as rows."""
        width = len(self.features)
        name, datatype, shape, data = (tensor[k] for k in ("name", "datatype", "shape", "data"))
        where = f"input {_quote(name)}"
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
        if float in types and datatype in INTEGER_TYPES:
            raise TensorError(f"{where}: datatype {datatype} holds a number that is not whole")
        return rows

    @staticmethod
    def _bad_value(
        feature: Feature, values: Sequence[Any], allowed: frozenset[type]
    ) -> TensorError:
        k, value = next((k, v) for k, v in enumerate(values) if type(v) not in allowed)
        where = f"input {_quote(feature.name)}: value {k}"
        if value is None:
            return TensorError(f"{where} is null, and the feature is not nullable")
        got = JSON_NAMES.get(type(value), "an array" if type(value) is list else "an object")
        nullable = " or null" if feature.nullable else ""
        return TensorError(f"{where} is {got}; expected {EXPECTED[feature.kind]}{nullable}")
