"""A small typed loader: plain YAML data -> frozen dataclasses, every problem at once.

The dataclasses of ``sre.config`` are the schema. This module walks their type hints,
converts what it can and collects a :class:`Problem` (key path + message) for each thing
it cannot, so a user sees every mistake in one run instead of fixing them one at a time.

Supported field types: ``str``, ``int``, ``float``, ``bool``, ``Decimal``, ``Duration``,
``Literal[...]``, ``X | None``, ``tuple[X, ...]``, ``dict[str, X]`` and nested dataclasses.
Fields are declared with :func:`key`: their documentation (``doc``), the YAML name where
Python reserves the word (``key``, e.g. ``for``) and a ``check`` (a callable returning an
error message or ``None``). A dataclass may define
``_problems(self) -> list[tuple[str, str]]`` for rules that span several fields.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from sre.config.durations import Duration

T = TypeVar("T")


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    file: str = ""  # an included file, as the main file names it; "" = the main file

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{self.file}: {text}" if self.file else text


class _Invalid:
    """Marker for a value that could not be converted (its problem is already recorded)."""


INVALID: Any = _Invalid()


def key(
    doc: str,
    default: Any = MISSING,
    *,
    factory: Callable[[], Any] | Any = MISSING,
    check: Callable[[Any], str | None] | None = None,
    name: str | None = None,
) -> Any:
    """One ``sre.yaml`` key: a dataclass field with its documentation (the config reference
    is generated from it), an optional ``check`` and the YAML ``name`` where Python
    reserves the word (``for``)."""
    metadata: dict[str, Any] = {"doc": doc}
    if check is not None:
        metadata["check"] = check
    if name is not None:
        metadata["key"] = name
    return dataclasses.field(default=default, default_factory=factory, metadata=metadata)


def yaml_key(field: dataclasses.Field[Any]) -> str:
    return str(field.metadata.get("key", field.name))


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _type_name(value: object) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, int | float) else type(value).__name__
    )


class Loader:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str) -> Any:
        self.problems.append(Problem(path, message))
        return INVALID

    def load(self, cls: type[T], data: object, path: str = "") -> T:
        return typing.cast(T, self._convert(cls, data, path))

    def _convert(self, hint: Any, value: object, path: str) -> Any:
        origin = get_origin(hint)
        if origin in (Union, types.UnionType):
            options = [a for a in get_args(hint) if a is not type(None)]
            if value is None:
                return None
            return self._convert(options[0], value, path)
        if origin is Literal:
            allowed = get_args(hint)
            if value not in allowed:
                choices = ", ".join(repr(a) for a in allowed)
                return self.fail(path, f"{value!r} is not one of {choices}")
            return value
        if origin is tuple:
            if not isinstance(value, list):
                return self.fail(path, f"expected a list, got {_type_name(value)}")
            (item,) = get_args(hint)[:1]
            return tuple(self._convert(item, v, _join(path, i)) for i, v in enumerate(value))
        if origin is dict:
            if not isinstance(value, dict):
                return self.fail(path, f"expected a mapping, got {_type_name(value)}")
            _, item = get_args(hint)
            return {str(k): self._convert(item, v, _join(path, str(k))) for k, v in value.items()}
        if dataclasses.is_dataclass(hint) and hint is not Duration:
            return self._dataclass(typing.cast(type, hint), value, path)
        return self._scalar(hint, value, path)

    def _scalar(self, hint: Any, value: object, path: str) -> Any:
        if hint is bool:
            if not isinstance(value, bool):
                return self.fail(path, f"expected true or false, got {value!r}")
            return value
        if hint is int:
            if isinstance(value, bool) or not isinstance(value, int):
                return self.fail(path, f"expected a whole number, got {value!r}")
            return value
        if hint is float:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return self.fail(path, f"expected a number, got {value!r}")
            return float(value)
        if hint is Decimal:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                return self.fail(path, f"expected a number, got {value!r}")
            try:
                # str() first: 99.9 stays 99.9 instead of its binary approximation.
                return Decimal(str(value))
            except InvalidOperation:
                return self.fail(path, f"{value!r} is not a number")
        if hint is Duration:
            if not isinstance(value, str):
                hint_text = f' (did you mean "{value}s"?)' if isinstance(value, int) else ""
                return self.fail(path, f"{value!r} is not a duration{hint_text}")
            try:
                return Duration.parse(value)
            except ValueError as err:
                return self.fail(path, str(err))
        if hint is str:
            if not isinstance(value, str):
                return self.fail(path, f"expected a string, got {_type_name(value)}")
            return value
        if hint is Any:
            return value
        raise TypeError(f"schema type {hint!r} is not supported")  # a bug in sre.config

    def _dataclass(self, cls: type, value: object, path: str) -> Any:
        if not isinstance(value, dict):
            return self.fail(path, f"expected a mapping, got {_type_name(value)}")
        fields = {yaml_key(f): f for f in dataclasses.fields(cls) if f.init}
        hints = _hints(cls)
        for key in value:
            if str(key) not in fields:
                close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
                hint = f' (did you mean "{close[0]}"?)' if close else ""
                self.fail(_join(path, str(key)), f"unknown key{hint}")
        kwargs: dict[str, Any] = {}
        broken = False
        for key, field in fields.items():
            sub = _join(path, key)
            if key in value:
                converted = self._convert(hints[field.name], value[key], sub)
                check = field.metadata.get("check")
                if converted is not INVALID and converted is not None and check is not None:
                    try:
                        message = check(converted)
                    except (ValueError, ArithmeticError) as err:  # e.g. urlparse on junk
                        message = f"{converted!r} is not valid: {err}"
                    if message:
                        converted = self.fail(sub, message)
            elif field.default is MISSING and field.default_factory is MISSING:
                converted = self.fail(sub, "missing required key")
            else:
                continue
            if converted is INVALID or _contains_invalid(converted):
                broken = True
            kwargs[field.name] = converted
        # Cross-field rules run even when a field is broken, so that every problem is
        # reported at once. A rule that needs a broken field raises and is skipped: that
        # field's own problem is already reported, and the rule is judged once it is fixed.
        obj = cls(**kwargs)
        try:
            cross: list[tuple[str, str]] = getattr(obj, "_problems", lambda: [])()
        except (AttributeError, TypeError, ValueError, ArithmeticError):
            cross = []
        for sub, message in cross:
            self.fail(_join(path, sub) if sub else path, message)
        return INVALID if broken else obj


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    """A dataclass's resolved type hints, once per class: resolving them for each of 500
    services took most of the loader's time."""
    return get_type_hints(cls)


def _contains_invalid(value: object) -> bool:
    if isinstance(value, tuple):
        return any(v is INVALID for v in value)
    if isinstance(value, dict):
        return any(v is INVALID for v in value.values())
    return False
