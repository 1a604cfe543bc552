"""Turn zeep's decoded Python values into JSON-able values without losing type information.

Choices (also in docs/national-services.md):
- xs:date / xs:dateTime / xs:time -> ISO 8601 strings (offset kept when the provider sent one);
- xs:decimal -> a *string* with the exact digits ("1500000000.50"): JSON numbers are read as binary
  floats by most clients, which would silently round money; integers stay JSON numbers;
- an element whose XSD maxOccurs > 1 is always an array (zeep gives a list), even with one item;
- an optional element that is absent is omitted (not ``null``).
"""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal
from typing import Any

from zeep.helpers import serialize_object

__all__ = ["json_scalar", "to_json"]


def _convert(value: Any) -> Any:
    if value is None:  # an empty item of a list (zeep gives None for <x/>): null, never the string "None"
        return None
    if isinstance(value, dict):
        return {str(k): _convert(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_convert(v) for v in value]
    if isinstance(value, bool | int | str | float):
        return value
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return str(value)


def json_scalar(value: Any) -> Any:
    """JSON-able form of one decoded simple value (what :func:`to_json` does to each leaf)."""
    return _convert(value)


def to_json(value: Any) -> Any:
    """JSON-able form of a zeep CompoundValue (or plain value)."""
    return _convert(serialize_object(value, target_cls=dict))
