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

__all__ = ["SECTIONS", "RegistryFileError", "refuse_twice", "section", "take_entry", "type_problem"]

#: The top-level keys of a registry file; each holds a list of entries.
SECTIONS = ("agencies", "systems", "services", "grants", "datasets", "limits", "object_grants")


class RegistryFileError(ValueError):
    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def section(data: Mapping[str, Any], name: str) -> list[Any]:
    """The entries of section ``name`` (absent or empty: none). A number there raised TypeError (a
    traceback), a string was read character by character, a mapping key by key."""
    value = data.get(name)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RegistryFileError(name, f"must be a list of entries, not {_kind(value)}")
    for i, item in enumerate(value):  # every section's parser sorts or joins the keys it does not know
        odd = [key for key in item if not isinstance(key, str)] if isinstance(item, dict) else []
        if odd:
            raise RegistryFileError(f"{name}[{i}]", f"keys must be strings, not {_kind(odd[0])} ({str(odd[0])[:40]})")
    return value


def refuse_twice(name: str, keys: list[Any]) -> None:
    """Refuse the second entry with the key of an earlier one in section ``name``."""
    first: dict[Any, int] = {}
    for i, key in enumerate(keys):
        if key in first:
            label = "/".join(map(str, key)) if isinstance(key, tuple) else str(key)
            raise RegistryFileError(f"{name}[{i}]", f"{label} is listed twice (also {name}[{first[key]}])")
        first[key] = i


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
