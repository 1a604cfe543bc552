"""JSON Schema (draft 2020-12) for an operation's input or output, generated from the same type model.

The published schema is the contract department IT codes against, so it states exactly what mediation
enforces and emits: arrays wherever the XSD allows more than one occurrence (even for one item), ISO 8601
strings for dates/times, and decimals as strings on output (numbers or strings accepted on input).
"""

from __future__ import annotations

from typing import Any, Literal

from .typemodel import FieldModel

__all__ = ["DECIMAL_PATTERN", "Direction", "model_schema"]

Direction = Literal["input", "output"]
DECIMAL_PATTERN = r"^[+-]?(\d+(\.\d*)?|\.\d+)$"


def _anchored(regexps: list[str]) -> str:
    # XSD patterns match the whole value; JSON Schema patterns are unanchored searches.
    return "^(?:" + "|".join(regexps) + ")$"


def _facets(model: FieldModel, schema: dict[str, Any]) -> None:
    t = model.xsd_type
    if t is None:
        return
    enumeration = getattr(t, "enumeration", None)
    if enumeration:
        schema["enum"] = [model_value(model, v) for v in enumeration]
    patterns = getattr(t, "patterns", None)
    if patterns is not None and getattr(patterns, "regexps", None) and schema.get("type") == "string":
        schema["pattern"] = _anchored(list(patterns.regexps))
    if schema.get("type") == "string":
        if getattr(t, "min_length", None):
            schema["minLength"] = t.min_length
        if getattr(t, "max_length", None) is not None:
            schema["maxLength"] = t.max_length
    if schema.get("type") in ("integer", "number"):
        if getattr(t, "min_value", None) is not None:
            schema["minimum"] = int(t.min_value) if model.kind == "integer" else float(t.min_value)
        if getattr(t, "max_value", None) is not None:
            schema["maximum"] = int(t.max_value) if model.kind == "integer" else float(t.max_value)


def model_value(model: FieldModel, value: Any) -> Any:
    """An enumeration value in its JSON form (enumerations are mostly strings; keep ints/bools typed)."""
    if model.kind == "integer":
        return int(value)
    if model.kind == "boolean":
        return value in (True, "true", "1")
    return str(value)


def _scalar(model: FieldModel, direction: Direction) -> dict[str, Any]:
    kind = model.kind
    schema: dict[str, Any]
    if kind == "boolean":
        schema = {"type": "boolean"}
    elif kind == "integer":
        schema = {"type": "integer"}
    elif kind == "float":
        schema = {"type": "number"}
    elif kind == "decimal":
        as_string = {"type": "string", "pattern": DECIMAL_PATTERN}
        if direction == "output":
            schema = {**as_string, "description": "xs:decimal as an exact decimal string"}
        else:
            schema = {
                "anyOf": [as_string, {"type": "number"}],
                "description": "xs:decimal; send a string to avoid binary floating-point rounding",
            }
    elif kind == "date":
        schema = {"type": "string", "format": "date"}
    elif kind == "dateTime":
        schema = {"type": "string", "format": "date-time"}
    elif kind == "time":
        schema = {"type": "string", "format": "time"}
    elif kind == "base64":
        schema = {"type": "string", "contentEncoding": "base64"}
    elif kind == "any":
        schema = {}
    else:
        schema = {"type": "string"}
    _facets(model, schema)
    return schema


def _element(model: FieldModel, direction: Direction) -> dict[str, Any]:
    if model.kind == "complex":
        schema: dict[str, Any] = _object(model.children, direction)
    else:
        schema = _scalar(model, direction)
    if model.documentation and "description" not in schema:
        schema["description"] = model.documentation
    if model.nillable:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if model.is_list:
        array: dict[str, Any] = {"type": "array", "items": schema}
        if model.min_occurs:
            array["minItems"] = model.min_occurs
        if model.max_occurs is not None:
            array["maxItems"] = model.max_occurs
        return array
    return schema


def _object(children: list[FieldModel], direction: Direction) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {child.name: _element(child, direction) for child in children},
        "additionalProperties": False,
    }
    required = [child.name for child in children if child.required]
    if required:
        schema["required"] = required
    return schema


def model_schema(model: FieldModel, direction: Direction, *, title: str | None = None) -> dict[str, Any]:
    """The JSON Schema of a message body: the children of the wrapper element as one JSON object."""
    children = model.children if model.kind == "complex" else [model]
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", **_object(children, direction)}
    if title:
        schema["title"] = title
    return schema
