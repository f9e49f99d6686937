"""Checking a params.yaml section against its dataclass: every value typed by the field's
annotation and bounded by the field's `limits`, every error naming the key."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import field
from typing import Any, Literal, TypeVar

from mlops_template.core.errors import ConfigError


def limits(default: Any, **bounds: float) -> Any:
    """A dataclass field with bounds: ge/le (inclusive), gt/lt (exclusive), max_len (lists).

    For a list or tuple the number bounds apply to each element."""
    kwargs: dict[str, Any] = {"metadata": bounds}
    if isinstance(default, (list, tuple, dict)):
        kwargs["default_factory"] = lambda: type(default)(default)
    else:
        kwargs["default"] = default
    return field(**kwargs)


T = TypeVar("T")

_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}


def shown(value: Any) -> str:
    text = repr(value)
    return (text[:60] + "…") if len(text) > 60 else text


def _typed(key: str, value: Any, annotation: Any) -> Any:
    """`value` checked against `annotation` (and converted: int → float, list → tuple)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None:
            if type(None) in options:
                return None
            raise ConfigError(f"params: {key} must be set, not null")
        (inner,) = [o for o in options if o is not type(None)]
        return _typed(key, value, inner)
    if value is None:
        raise ConfigError(f"params: {key} must be set, not null")
    if origin is Literal:
        choices = typing.get_args(annotation)
        if value not in choices:
            raise ConfigError(
                f"params: {key} must be {' or '.join(map(str, choices))}, not {shown(value)}"
            )
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"params: {key} must be a list, not {shown(value)}")
        inner, *_ = typing.get_args(annotation)
        items = [_typed(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    expected = annotation
    ok = isinstance(value, expected) and not (expected is not bool and isinstance(value, bool))
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        name = _NAMES.get(expected, getattr(expected, "__name__", str(expected)))
        raise ConfigError(
            f"params: {key} must be {name}, not {shown(value)} ({type(value).__name__})"
        )
    if expected is float and not math.isfinite(value):
        raise ConfigError(f"params: {key} must be a finite number, not {value}")
    return value


def _bounded(key: str, value: Any, bounds: dict[str, float]) -> None:
    if value is None or not bounds:
        return
    if isinstance(value, (list, tuple)):
        if "max_len" in bounds and len(value) > bounds["max_len"]:
            raise ConfigError(
                f"params: {key} may hold at most {bounds['max_len']:g} values, not {len(value)}"
            )
        if not value and "max_len" in bounds:
            raise ConfigError(f"params: {key} must hold at least one value")
        for i, item in enumerate(value):
            _bounded(f"{key}[{i}]", item, bounds)
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    gt, lt = bounds.get("gt"), bounds.get("lt")
    if gt is not None and lt is not None and not gt < value < lt:
        raise ConfigError(f"params: {key} must be between {gt:g} and {lt:g}, not {value}")
    words = {"ge": "at least", "le": "at most", "gt": "more than", "lt": "less than"}
    for name, text in words.items():
        bound = bounds.get(name)
        if bound is None:
            continue
        holds = {"ge": value >= bound, "le": value <= bound, "gt": value > bound}.get(
            name, value < bound
        )
        if not holds:
            raise ConfigError(f"params: {key} must be {text} {bound:g}, not {value}")


def build(cls: type[T], section: str, raw: Any) -> T:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"params: section '{section}' must be a mapping, not {shown(raw)}")
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in fields:
            raise ConfigError(f"params: unknown key '{section}.{key}' (known: {', '.join(fields)})")
    hints = typing.get_type_hints(cls)
    values = {}
    for key, value in raw.items():
        name = f"{section}.{key}"
        values[key] = _typed(name, value, hints[key])
        _bounded(name, values[key], dict(fields[key].metadata))
    return cls(**values)
