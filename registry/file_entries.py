"""The entries of a registry file: each a mapping of known keys whose values have their fields' types.

Why: YAML gives whatever the text says: a list where a name belongs, a date for an unquoted
``2026-01-01``, the string ``"false"`` for a flag. Handed to a spec as it came, a wrong type raised
``AttributeError`` deep in validation, so ``lgsp apply`` printed a traceback and the console's registry
preview answered 500. Or it was converted silently: ``bool("false")`` is True. :func:`take_entry` names
the first key that does not fit. It stops at the first element that does not fit, so a YAML alias bomb in
a list costs nothing to refuse.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, Union

__all__ = ["RegistryFileError", "take_entry", "type_problem"]


class RegistryFileError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def take_entry(item: Any, where: str, allowed: set[str], required: set[str], spec: type | None = None,
               strings: tuple[str, ...] = (), normalised: tuple[str, ...] = ()) -> dict[str, Any]:
    """``item`` checked: a mapping with only ``allowed`` keys, all ``required`` ones, each value of the type
    its field in ``spec`` declares (except the ``normalised`` keys, which the parser converts itself), and
    the keys in ``strings`` (ids the parser splits) strings."""
    if not isinstance(item, dict):
        raise RegistryFileError(where, "must be a mapping")
    unknown = set(item) - allowed
    if unknown:
        raise RegistryFileError(where, f"unknown keys: {', '.join(sorted(unknown))}")
    missing = required - set(item)
    if missing:
        raise RegistryFileError(where, f"missing keys: {', '.join(sorted(missing))}")
    typed = {k: v for k, v in item.items() if k not in normalised}
    problem = type_problem(spec, typed) if spec is not None else None
    if problem is None:
        problem = next(((key, "must be a string") for key in strings if not isinstance(item.get(key), str)), None)
    if problem is not None:
        raise RegistryFileError(f"{where}.{problem[0]}", problem[1])
    return item


@cache
def _hints(spec: type) -> dict[str, Any]:
    return typing.get_type_hints(spec)


def type_problem(spec: type, entry: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(key, message)`` for the first value of ``entry`` that its field in ``spec`` cannot hold, or None.

    Keys that are not fields of ``spec`` are not judged here (the caller maps or refuses them).
    """
    hints = _hints(spec)
    for key, value in entry.items():
        expected = hints.get(key)
        if expected is not None and not _fits(value, expected):
            return key, f"must be {_describe(expected)}, not {_kind(value)}"
    return None


def _fits(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any:
        return True
    if origin in (Union, types.UnionType):
        return any(_fits(value, option) for option in args)
    if annotation is type(None):
        return value is None
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if origin is Literal:
        return value in args
    if origin is list:
        return isinstance(value, list) and (not args or all(_fits(item, args[0]) for item in value))
    if origin is dict:
        return isinstance(value, dict) and (not args or all(_fits(k, args[0]) for k in value))
    return True  # an annotation this check does not know: left to the spec's own validation


def _describe(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (Union, types.UnionType):
        return " or ".join(_describe(option) for option in args)
    if origin is list:
        return f"a list of {_describe(args[0]).removeprefix('a ').removeprefix('an ')}s" if args else "a list"
    if origin is dict:
        return "a mapping"
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", type(None): "null"}
    return names.get(annotation, str(annotation))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return type(value).__name__
