"""A guard in front of CKAN's write actions: a payload CKAN cannot store is a validation error, not a 500.

Why: the dataset schema's validators (``lgsp_text``) cover the fields it names, but CKAN stores more than
those -- resource extras (any key), ``url``, ``format``, ``license_id``, ``version``, ``author``, group
references -- and hands them to PostgreSQL and to its JSON column unchecked. Fuzzing the Action API found a
500 for each of: NUL anywhere in those (PostgreSQL refuses it), a lone surrogate in a resource extra (the
UTF-8 codec refuses it), ``NaN``/``Infinity`` in a resource extra (Python's JSON parser accepts them, the
JSON column does not), a ``size`` beyond PostgreSQL's bigint, a number as a resource's ``format``
(``clean_format`` calls ``.lower()``), ``false`` as ``tag_string`` (iterated over); and, once stored, a
number as a resource's ``issued``/``modified``/``access_url``/``license`` broke the whole DCAT catalogue
(ckanext-dcat expects strings there).

So every write action of datasets and resources is chained (:func:`get_actions`): the payload is walked
once, and what no output of the portal can carry is refused with a validation error naming the field
(409 over HTTP), before CKAN's own validation and auth run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ckan.plugins import toolkit as tk

from .text import MESSAGE, writable

#: PostgreSQL's bigint (a resource's ``size``); no count the portal stores is larger.
MAX_INT = 2**63 - 1
#: Resource keys ckanext-dcat reads as text (a date, an IRI, a format token): anything else breaks DCAT.
RESOURCE_TEXT_KEYS = ("url", "format", "mimetype", "issued", "modified", "access_url", "download_url",
                      "license", "rights", "hash", "hash_algorithm", "name", "description")
#: Nesting deeper than any dataset needs (CKAN's own structures are at most four levels deep).
MAX_DEPTH = 32
Problems = dict[str, list[Any]]


def problems(data_dict: dict[str, Any], resource: bool) -> Problems:
    """What in ``data_dict`` cannot be stored, by top-level key (empty when all is well)."""
    found: Problems = {}
    for key, value in (data_dict or {}).items():
        messages = [f"{where}: {msg}" if where else msg for where, msg in _walk(value, "", 0)]
        if key == "tag_string" and not isinstance(value, (str, list, type(None))):
            messages.append(tk._("Must be a string"))  # CKAN's tag_string_convert iterates over anything else
        if resource:
            messages += _resource_types(key, value, "")
        elif key == "resources" and isinstance(value, list):
            for index, res in enumerate(value):
                if isinstance(res, dict):
                    for res_key, res_value in res.items():
                        messages += _resource_types(res_key, res_value, f"{index}.{res_key}: ")
        if not isinstance(key, str) or not writable(key):
            messages.append(tk._(MESSAGE))
        if messages and key == "tags":  # CKAN's ValidationError expects tag errors as [{"name": [...]}]
            found["tags"] = [{"name": messages}]  # type: ignore[list-item]
        elif messages:
            found[key if isinstance(key, str) and writable(key) else "__key"] = messages
    return found


def _resource_types(key: str, value: Any, where: str) -> list[str]:
    if key in RESOURCE_TEXT_KEYS and value is not None and not isinstance(value, str):
        return [where + tk._("Must be a string")]
    return []


def _walk(value: Any, where: str, depth: int) -> list[tuple[str, str]]:
    if depth > MAX_DEPTH:
        return [(where, tk._("Nested too deeply"))]
    if isinstance(value, str):
        return [] if writable(value) else [(where, tk._(MESSAGE))]
    if isinstance(value, bool) or value is None:
        return []
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, tk._("Must be a finite number"))]
    if isinstance(value, int):
        return [] if abs(value) <= MAX_INT else [(where, tk._("Number out of range"))]
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            path = f"{where}.{key}" if where else str(key)
            if not isinstance(key, str) or not writable(key):
                found.append((where, tk._(MESSAGE)))
            found += _walk(item, path, depth + 1)
        return found
    if isinstance(value, (list, tuple)):
        found = []
        for index, item in enumerate(value):
            found += _walk(item, f"{where}.{index}" if where else str(index), depth + 1)
        return found
    return []  # other Python objects come only from Python callers (FieldStorage uploads, dates)


def _guard(action: str) -> Callable[..., Any]:
    resource = action.startswith("resource_")

    @tk.chained_action
    def guarded(next_action: Callable[..., Any], context: dict[str, Any], data_dict: dict[str, Any]) -> Any:
        found = problems(data_dict if isinstance(data_dict, dict) else {}, resource)
        if found:
            raise tk.ValidationError(found)
        return next_action(context, data_dict)

    guarded.__name__ = action
    return guarded


GUARDED_ACTIONS = ("package_create", "package_update", "package_patch", "package_revise",
                   "resource_create", "resource_update", "resource_patch")


def get_actions() -> dict[str, Callable[..., Any]]:
    return {name: _guard(name) for name in GUARDED_ACTIONS}
