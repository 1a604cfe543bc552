"""A small, explicit model of an operation's message shape, built once from the XSD (via xmlschema).

Why not use zeep's own type objects? zeep drops XSD facets (patterns, lengths, enumerations, ranges), so
it would accept a 9-digit citizen ID and let the provider answer with a fault. xmlschema keeps every facet
and can check one lexical value against a simple type, so input validation here is as strict as the
provider's own schema, and the same walk produces the JSON Schema we publish. zeep remains the SOAP
layer (binding, envelope, decoding); both read the same local files.

Scope: document/literal messages built from elements (sequence/all/choice) and simple types. Attributes
and mixed content are not mediated (rare in NGSP-style services); a choice is modelled as "all optional".
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FieldError

__all__ = ["FieldModel", "build_model", "coerce_input"]

XS = "{http://www.w3.org/2001/XMLSchema}"

# XSD builtin local name -> our scalar kind. Derived builtins (xs:int -> xs:long -> xs:integer) are found by
# walking ``base_type`` until one of these names appears.
_KINDS = {
    "string": "string",
    "anyURI": "string",
    "QName": "string",
    "NOTATION": "string",
    "boolean": "boolean",
    "integer": "integer",
    "decimal": "decimal",
    "float": "float",
    "double": "float",
    "date": "date",
    "dateTime": "dateTime",
    "time": "time",
    "duration": "string",
    "gYear": "string",
    "gYearMonth": "string",
    "gMonth": "string",
    "gMonthDay": "string",
    "gDay": "string",
    "base64Binary": "base64",
    "hexBinary": "string",
}
_MAX_DEPTH = 32


@dataclass
class FieldModel:
    """One element of a message: its occurrence bounds, scalar kind or children, and its simple type."""

    name: str
    min_occurs: int = 1
    max_occurs: int | None = 1  # None = unbounded
    kind: str = "complex"  # a value of _KINDS or "complex" / "any"
    children: list[FieldModel] = field(default_factory=list)
    xsd_type: Any = None  # xmlschema simple type, used to check lexical values against every facet
    nillable: bool = False
    documentation: str | None = None

    @property
    def is_list(self) -> bool:
        """True when the XSD allows more than one occurrence: JSON then always uses an array."""
        return self.max_occurs is None or self.max_occurs > 1

    @property
    def required(self) -> bool:
        return self.min_occurs > 0


def _scalar_kind(xsd_type: Any) -> str:
    current = xsd_type
    for _ in range(_MAX_DEPTH):
        name = getattr(current, "name", None)
        if name and name.startswith(XS) and name[len(XS) :] in _KINDS:
            return _KINDS[name[len(XS) :]]
        base = getattr(current, "base_type", None)
        if base is None:
            break
        current = base
    return "string"  # lists, unions and unknown builtins travel as their lexical form


def _documentation(component: Any) -> str | None:
    annotation = getattr(component, "annotation", None)
    if annotation is None:
        return None
    text = " ".join(str(d.text or "").strip() for d in getattr(annotation, "documentation", []))
    return text or None


def build_model(element: Any, depth: int = 0) -> FieldModel:
    """Model an xmlschema element (recursively; recursion deeper than 32 levels becomes ``any``)."""
    model = FieldModel(
        name=element.local_name,
        min_occurs=element.min_occurs,
        max_occurs=element.max_occurs,
        nillable=bool(getattr(element, "nillable", False)),
        documentation=_documentation(element) or _documentation(element.type),
    )
    xsd_type = element.type
    if depth > _MAX_DEPTH:
        model.kind = "any"
    elif xsd_type.is_simple():
        model.kind, model.xsd_type = _scalar_kind(xsd_type), xsd_type
    elif xsd_type.has_simple_content():
        simple = xsd_type.content  # simple content: the value's simple type (attributes are not mediated)
        model.kind, model.xsd_type = _scalar_kind(simple), simple
    else:
        content = xsd_type.content
        is_choice = getattr(content, "model", None) == "choice"
        for child in content.iter_elements():
            if not hasattr(child, "local_name") or child.local_name is None:
                continue  # xs:any wildcards are not mediated
            child_model = build_model(child, depth + 1)
            if is_choice:
                child_model.min_occurs = 0
            model.children.append(child_model)
    return model


# --------------------------------------------------------------------------- JSON -> zeep values


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


#: Digits a number may have once written out in the plain form XSD wants (no exponent). JSON allows
#: exponents, so a 13-byte "1e-999999999" is a billion digits written out: building that string held the
#: event loop for 38 s and a gigabyte, and an integer 1e99999999 never finished (nor did the 500 that a
#: 5,000-digit one ended in). No XSD numeric value a service exchanges comes near this bound.
MAX_NUMBER_DIGITS = 1000


def _plain_digits(number: Decimal) -> int:
    """How many digits a finite ``number`` has without an exponent (computed, never written out)."""
    exponent = number.as_tuple().exponent
    assert isinstance(exponent, int)  # finite numbers only
    return max(number.adjusted() + 1, 1) + max(-exponent, 0)


def _too_long(number: Decimal, path: str, errors: list[FieldError]) -> bool:
    if _plain_digits(number) <= MAX_NUMBER_DIGITS:
        return False
    errors.append(FieldError(path, f"{number:.6e} has more than {MAX_NUMBER_DIGITS} digits written out"))
    return True


def _lexical(model: FieldModel, value: Any, path: str, errors: list[FieldError]) -> tuple[bool, str, Any]:
    """Check the JSON type for the field's kind; return (ok, lexical form for XSD checks, value for zeep)."""
    kind = model.kind
    if kind == "boolean":
        if isinstance(value, bool):
            return True, "true" if value else "false", value
        errors.append(FieldError(path, f"expected a boolean (true/false), got {_json_type(value)}"))
    elif kind == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return True, str(value), value
        if isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            if _too_long(value, path, errors):
                return False, "", None
            return True, str(int(value)), int(value)
        errors.append(FieldError(path, f"expected an integer, got {_json_type(value)}"))
    elif kind == "decimal":
        # Strings are accepted (and recommended) so amounts never pass through a binary float.
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
            errors.append(FieldError(path, f"expected a decimal (string or number), got {_json_type(value)}"))
        else:
            try:
                number = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
            except InvalidOperation:
                errors.append(FieldError(path, f"{value!r} is not a decimal number"))
                return False, "", None
            if not number.is_finite():
                errors.append(FieldError(path, f"{value!r} is not a finite decimal number"))
                return False, "", None
            if _too_long(number, path, errors):
                return False, "", None
            return True, f"{number:f}", number
    elif kind == "float":
        if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
            return True, str(value), float(value)
        errors.append(FieldError(path, f"expected a number, got {_json_type(value)}"))
    elif kind in ("date", "dateTime", "time"):
        if isinstance(value, str):
            ok = _iso_ok(kind, value)
            if ok:
                return True, value, value
            errors.append(FieldError(path, f"{value!r} is not an ISO 8601 {kind} (e.g. {_EXAMPLES[kind]})"))
        else:
            errors.append(FieldError(path, f"expected an ISO 8601 {kind} string, got {_json_type(value)}"))
    elif isinstance(value, str):
        return True, value, value
    else:
        errors.append(FieldError(path, f"expected a string, got {_json_type(value)}"))
    return False, "", None


_EXAMPLES = {"date": "1990-01-31", "dateTime": "2026-11-26T09:30:00+07:00", "time": "09:30:00"}


_TZ = r"(Z|[+-]\d{2}:\d{2})?"
_ISO = {
    "date": re.compile(r"(\d{4}-\d{2}-\d{2})" + _TZ),
    "dateTime": re.compile(r"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?)" + _TZ),
    "time": re.compile(r"(\d{2}:\d{2}:\d{2}(\.\d+)?)" + _TZ),
}


def _iso_ok(kind: str, value: str) -> bool:
    """Strict ISO 8601 / XSD lexical form (no basic format, no week dates) that is also a real date."""
    match = _ISO[kind].fullmatch(value)
    if match is None:
        return False
    core = match.group(1)
    try:
        if kind == "date":
            dt.date.fromisoformat(core)
        elif kind == "dateTime":
            dt.datetime.fromisoformat(core)
        else:
            dt.time.fromisoformat(core)
    except ValueError:
        return False
    return True


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float | Decimal):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _coerce_value(model: FieldModel, value: Any, path: str, errors: list[FieldError], facets: bool) -> Any:
    if value is None:
        if model.nillable:
            return None
        errors.append(FieldError(path, "must not be null"))
        return None
    if model.kind == "any":
        return value
    if model.kind == "complex":
        if not isinstance(value, Mapping):
            errors.append(FieldError(path, f"expected an object, got {_json_type(value)}"))
            return None
        return coerce_children(model.children, value, path, errors, facets)
    ok, lexical, converted = _lexical(model, value, path, errors)
    if ok and facets and model.xsd_type is not None:
        problems = list(model.xsd_type.iter_errors(lexical))
        if problems:
            reason = getattr(problems[0], "reason", None) or str(problems[0])
            errors.append(FieldError(path, f"{lexical!r} is not valid: {reason}"))
            return None
    return converted


def coerce_children(
    children: list[FieldModel], data: Mapping[str, Any], path: str, errors: list[FieldError], facets: bool = True
) -> dict[str, Any]:
    """Validate one JSON object against the children of a complex element and convert it for zeep."""
    out: dict[str, Any] = {}
    known = {child.name for child in children}
    for key in data:
        if key not in known:
            errors.append(FieldError(_join(path, str(key)), f"unknown field; allowed: {', '.join(sorted(known))}"))
    for child in children:
        child_path = _join(path, child.name)
        if child.name not in data:
            if child.required:
                errors.append(FieldError(child_path, "required field is missing"))
            continue
        value = data[child.name]
        if child.is_list:
            if not isinstance(value, list):
                errors.append(FieldError(child_path, f"expected an array, got {_json_type(value)}"))
                continue
            if len(value) < child.min_occurs:
                errors.append(FieldError(child_path, f"needs at least {child.min_occurs} item(s)"))
            if child.max_occurs is not None and len(value) > child.max_occurs:
                errors.append(FieldError(child_path, f"allows at most {child.max_occurs} item(s)"))
            out[child.name] = [
                _coerce_value(child, item, f"{child_path}[{i}]", errors, facets) for i, item in enumerate(value)
            ]
        else:
            out[child.name] = _coerce_value(child, value, child_path, errors, facets)
    return out


def coerce_input(model: FieldModel, data: Any, *, facets: bool = True) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate a JSON body against an input element's model; return (zeep keyword arguments, errors).

    ``facets=False`` checks JSON types, occurrences and ISO forms only, leaving the XSD facets (patterns,
    lengths, enumerations, ranges) to libxml2, which validates the rendered body in microseconds where
    xmlschema takes tens per value; a body libxml2 refuses is coerced again with facets for the messages.
    """
    errors: list[FieldError] = []
    if not isinstance(data, Mapping):
        errors.append(FieldError("", f"the body must be a JSON object, got {_json_type(data)}"))
        return {}, errors
    if model.kind != "complex":
        # A simple-typed body element: accept {"<name>": value} for symmetry with complex bodies.
        return coerce_children([model], data, "", errors, facets), errors
    return coerce_children(model.children, data, "", errors, facets), errors
