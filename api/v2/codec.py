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

import operator
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np
import orjson

from mlops_template.core.card import ModelCard

from api.codecs import NOT_FINITE, not_finite
from api.records import Records
from api.v2.checked import Checker, Rows, TensorError, listing, parameters, quote
from api.v2.tensors import DECLARED, LABEL, PREDICTION_ID, PROBABILITIES, output_names

REQUEST_KEYS = frozenset({"id", "parameters", "inputs", "outputs"})
OUTPUT_KEYS = frozenset({"name", "parameters"})
NAME, SHAPE, DATATYPE, DATA = map(operator.itemgetter, ("name", "shape", "datatype", "data"))
FOUR, INT, LIST = frozenset({4}), frozenset({int}), frozenset({list})


def loads(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        if not_finite(body, exc):
            raise TensorError(
                f"{NOT_FINITE}: send finite numbers, and null for a "
                "missing value (nullable features only)",
                "not_finite",
            ) from None
        raise TensorError(f"malformed JSON: {exc}", "malformed_json") from None


class Reply:
    """Writes the answer of one infer request (called by `answer_many` with its rows)."""

    __slots__ = ("head", "classes", "wanted")

    def __init__(self, head: dict[str, Any], classes: list[str], wanted: tuple[str, ...]) -> None:
        self.head, self.classes, self.wanted = head, classes, wanted

    def __call__(self, result: np.ndarray, classification: bool, ids: list[str]) -> bytes:
        n = len(result)
        outputs: list[dict[str, Any]] = []
        for name in self.wanted:
            if name == LABEL:
                labels = [self.classes[b] for b in result.argmax(axis=1).tolist()]
                outputs.append({"name": name, "datatype": "BYTES", "shape": [n], "data": labels})
            elif name == PREDICTION_ID:  # for POST /feedback, as a /predict row's "id"
                outputs.append({"name": name, "datatype": "BYTES", "shape": [n], "data": ids})
            else:  # probabilities (n, classes) flattened row-major, or values (n,)
                shape = [n, result.shape[1]] if name == PROBABILITIES else [n]
                data = np.ascontiguousarray(result).ravel()
                outputs.append({"name": name, "datatype": "FP64", "shape": shape, "data": data})
        return orjson.dumps({**self.head, "outputs": outputs}, option=orjson.OPT_SERIALIZE_NUMPY)


class V2Codec:
    """Reads V2 infer bodies for one model card (see the module docstring)."""

    def __init__(self, card: ModelCard, max_batch: int) -> None:
        self.card, self.max_batch = card, max_batch
        self.checker = Checker(card.features, max_batch, card.ignored_columns)
        self.features, self.allowed = card.features, self.checker.allowed
        self.outputs = output_names(card)
        self.names = tuple(f.name for f in card.features)
        self.declared = tuple(DECLARED[f.kind] for f in card.features)
        self.order = list(range(len(card.features)))
        self.same_types = len(set(self.allowed)) == 1

    def read(self, body: bytes) -> tuple[Records, Reply]:
        data = loads(body)
        if type(data) is not dict:
            raise TensorError('the body must be an inference request: {"inputs": [...]}')
        if not data.keys() <= REQUEST_KEYS:
            extra = sorted(data.keys() - REQUEST_KEYS)
            raise TensorError(f"unknown keys {listing(extra)} in the request", "unknown_field")
        inputs = data.get("inputs")
        if type(inputs) is not list or not inputs:
            raise TensorError('"inputs" must be a non-empty list of tensors', "missing_field")
        head: dict[str, Any] = {"model_name": self.card.name, "model_version": self.card.version}
        if "id" in data:
            if type(data["id"]) is not str:
                raise TensorError('"id" must be a string')
            head["id"] = data["id"]
        parameters(data, "the request")
        wanted = self._wanted(data.get("outputs"))
        rows = self._fast(inputs)
        if rows is None:
            rows = self.checked(inputs)
        return Records(rows), Reply(head, self.card.classes, wanted)

    def checked(self, inputs: list[Any]) -> Rows:
        """The rows of `inputs` by the exact path (`api.v2.checked`), whose errors name the
        input and the problem."""
        return self.checker.rows(inputs)

    def _fast(self, inputs: list[Any]) -> Rows | None:
        """The rows when every tensor has the plain form — name, shape [n], the declared
        datatype, valid values — checked in bulk; else None (`checked` names the problem)."""
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
                positions = list(map(self.checker.position.get, names))
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
                known = listing(self.outputs)
                problem = "twice" if name in names else f"unknown: the model's outputs are {known}"
                raise TensorError(f"output {quote(name)} is {problem}", "unknown_field")
            if not output.keys() <= OUTPUT_KEYS:
                raise TensorError(f'outputs[{k}] may only have "name" and "parameters"')
            if "classification" in parameters(output, f"output {quote(name)}"):
                raise TensorError("the classification extension is not supported")
            names.append(name)
        return tuple(names)
