"""Per-operation serializers written with lxml: the hot path of ``build_request`` and ``parse_response``.

zeep builds a request through value objects, signature introspection and a generic renderer (~250 µs for a
one-field body) and decodes a reply the same way (~600 µs for the NGSP business record). For the shapes
NGSP-style services use — document/literal bodies made of sequences of elements with simple types — the
work is a fixed walk known when the WSDL loads, so this module compiles that walk once per operation:

- :class:`Encoder` renders the values ``coerce_input`` produced, with zeep's own lexical rules (zeep's
  builtin ``xmlvalue``) and in zeep's element order, so the envelope is the bytes zeep would send;
- :class:`Decoder` turns a reply libxml2 has already validated against the XSD into the JSON zeep +
  ``to_json`` would give (zeep's builtin ``pythonvalue`` per leaf, with faster equivalents for strings,
  booleans, integers, decimals and ISO dates), and raises :class:`Fallback` on anything it does not model
  (attributes such as ``xsi:nil``/``xsi:type``, comments, an unexpected element), so the caller hands that
  reply to zeep.

A shape outside that subset (choice/all groups, attributes, simple content, wildcards, nillable or
defaulted elements, list/union types, types with no builtin zeep knows) compiles to ``None`` and the
operation keeps the zeep path. ``tests/mediation/test_mediation_fastpath.py`` checks, for generated inputs
over the demo WSDLs, that both paths give the same envelope bytes, the same decision and the same JSON.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lxml import etree
from zeep.xsd.types.builtins import default_types

from .jsonvalues import json_scalar

__all__ = ["Decoder", "Encoder", "Fallback", "compile_decoder", "compile_encoder", "envelope"]

XS_NS = "http://www.w3.org/2001/XMLSchema"
_XS = f"{{{XS_NS}}}"
_MAX_DEPTH = 32
# Builtins whose zeep conversions are plain enough to mirror; anything else keeps the zeep path.
_STRINGS = {"string", "normalizedString", "token", "language", "Name", "NCName", "NMTOKEN", "ID", "IDREF",
            "ENTITY", "anyURI"}
_INTEGERS = {"integer", "long", "int", "short", "byte", "nonNegativeInteger", "positiveInteger",
             "nonPositiveInteger", "negativeInteger", "unsignedLong", "unsignedInt", "unsignedShort",
             "unsignedByte"}
_OTHERS = {"boolean", "decimal", "float", "double", "date", "dateTime", "time"}
_SUPPORTED = _STRINGS | _INTEGERS | _OTHERS


class Fallback(Exception):
    """The reply has something the compiled decoder does not model: decode it with zeep instead."""


@dataclass(frozen=True)
class _Field:
    """One element of a compiled message: its tag, JSON name, occurrence and either children or a leaf."""

    tag: str
    name: str
    is_list: bool
    children: tuple[_Field, ...] | None  # None for a leaf
    to_xml: Callable[[Any], str] | None = None
    from_xml: Callable[[str], Any] | None = None


def _builtin_name(xsd_type: Any) -> str | None:
    """The local name of the nearest XSD builtin the simple type restricts, or None for lists/unions."""
    current = xsd_type
    for _ in range(_MAX_DEPTH):
        if current is None or current.is_list() or current.is_union():
            return None
        name = getattr(current, "name", None)
        if name and name.startswith(_XS):
            return str(name[len(_XS):])
        current = getattr(current, "base_type", None)
    return None


def _zeep_leaf(builtin: str) -> tuple[Callable[[Any], str], Callable[[str], Any]]:
    """zeep's own conversions for ``builtin``, wrapped as zeep's parser wraps them (errors give None)."""
    zeep_type = default_types[etree.QName(XS_NS, builtin)]

    def from_xml(text: str) -> Any:
        try:
            value = zeep_type.pythonvalue(text)
        except (TypeError, ValueError):  # zeep logs these and leaves the element out
            return None
        return None if value is None else json_scalar(value)

    return zeep_type.xmlvalue, from_xml


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME = r"\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?(?:Z|[+-]\d{2}:\d{2})?"
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T" + _TIME)
_TIME_RE = re.compile(_TIME)
_PLAIN_INT = re.compile(r"-?\d{1,18}")
_PLAIN_DECIMAL = re.compile(r"-?\d{1,28}(?:\.\d{1,28})?")


def _fast_from_xml(builtin: str, slow: Callable[[str], Any]) -> Callable[[str], Any]:
    """A quicker converter giving what ``slow`` (zeep) gives for the common lexical forms, else ``slow``."""
    if builtin in _STRINGS:
        return lambda text: text  # zeep's String/Token/AnyURI pythonvalue is the identity
    if builtin == "boolean":
        def boolean(text: str) -> Any:
            if text == "true" or text == "1":
                return True
            if text == "false" or text == "0":
                return False
            return slow(text)
        return boolean
    if builtin in _INTEGERS:
        return lambda text: int(text) if _PLAIN_INT.fullmatch(text) else slow(text)
    if builtin == "decimal":
        return lambda text: f"{Decimal(text):f}" if _PLAIN_DECIMAL.fullmatch(text) else slow(text)
    patterns: dict[str, tuple[re.Pattern[str], Callable[[str], Any]]] = {
        "date": (_DATE, dt.date.fromisoformat),
        "dateTime": (_DATETIME, dt.datetime.fromisoformat),
        "time": (_TIME_RE, dt.time.fromisoformat),
    }
    if builtin in patterns:
        pattern, parse = patterns[builtin]

        def iso(text: str) -> Any:
            if pattern.fullmatch(text):
                try:
                    return parse(text).isoformat()
                except ValueError:
                    pass  # e.g. 24:00:00, which XSD allows: zeep decides
            return slow(text)
        return iso
    return slow


def _compile(element: Any, depth: int) -> _Field | None:
    """The compiled form of an xmlschema element, or None when its shape is outside the fast subset."""
    if depth > _MAX_DEPTH or element.nillable or element.default is not None or element.fixed is not None:
        return None
    if element.abstract or getattr(element, "substitutes", None):
        return None
    name = element.local_name
    is_list = element.max_occurs is None or element.max_occurs > 1
    xsd_type = element.type
    if xsd_type.is_simple():
        builtin = _builtin_name(xsd_type)
        if builtin not in _SUPPORTED:
            return None
        to_xml, slow = _zeep_leaf(builtin)
        return _Field(element.name, name, is_list, None, to_xml, _fast_from_xml(builtin, slow))
    if xsd_type.has_simple_content() or len(xsd_type.attributes) or xsd_type.mixed:
        return None
    group = xsd_type.content
    if getattr(group, "model", None) != "sequence" or group.min_occurs != 1 or group.max_occurs != 1:
        return None
    children = []
    for item in group:
        if not hasattr(item, "type") or getattr(item, "local_name", None) is None or item.ref is not None:
            return None  # nested groups, wildcards, element references: zeep
        child = _compile(item, depth + 1)
        if child is None:
            return None
        children.append(child)
    tags = [child.tag for child in children]
    if not children or len(set(tags)) != len(tags):
        return None  # empty types decode to None in zeep; repeated names need zeep's particle walk
    return _Field(element.name, name, is_list, tuple(children))


# --------------------------------------------------------------------------- encoding


class Encoder:
    """Renders one operation's coerced JSON (``coerce_input`` output) as its body element."""

    def __init__(self, root: _Field) -> None:
        self.root = root

    def render(self, parent: etree._Element, values: Mapping[str, Any]) -> etree._Element:
        """Append the body element for ``values`` to ``parent`` (SOAP Body) and return it."""
        node = etree.SubElement(parent, self.root.tag)
        _render_children(node, self.root.children or (), values)
        return node


def _render_children(node: etree._Element, children: tuple[_Field, ...], values: Mapping[str, Any]) -> None:
    sub = etree.SubElement
    for child in children:
        value = values.get(child.name)
        if value is None:
            continue  # absent optional element (required ones were refused by coerce_input)
        for item in value if child.is_list else (value,):
            if item is None:
                continue
            el = sub(node, child.tag)
            if child.children is None:
                assert child.to_xml is not None
                el.text = child.to_xml(item)
            else:
                _render_children(el, child.children, item)


# --------------------------------------------------------------------------- decoding


class Decoder:
    """Decodes one operation's validated reply element into the JSON zeep + ``to_json`` would give."""

    def __init__(self, root: _Field) -> None:
        self.root = root

    def decode(self, payload: etree._Element) -> dict[str, Any]:
        """The JSON object for ``payload``; :class:`Fallback` when zeep must decide."""
        if len(payload.attrib):
            raise Fallback
        return _decode_children(payload, self.root.children or ())


def _decode_children(node: etree._Element, children: tuple[_Field, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    it = iter(node)
    current = next(it, None)
    for child in children:
        tag = child.tag
        if child.is_list:
            items = []
            while current is not None and current.tag == tag:
                items.append(_decode_one(current, child))
                current = next(it, None)
            out[child.name] = items
        elif current is not None and current.tag == tag:
            value = _decode_one(current, child)
            if value is not None:
                out[child.name] = value
            current = next(it, None)
    if current is not None:
        raise Fallback  # a comment, a processing instruction or an element the walk did not expect
    return out


def _decode_one(el: etree._Element, field: _Field) -> Any:
    if len(el.attrib):
        raise Fallback  # xsi:nil, xsi:type, ...: zeep's rules
    if field.children is None:
        if len(el):
            raise Fallback  # comments inside a value: zeep reads only the text before them
        text = el.text
        if text is None:
            return None
        assert field.from_xml is not None
        return field.from_xml(text)
    if not len(el):
        return None  # zeep decodes an empty complex element as None
    return _decode_children(el, field.children)


def compile_encoder(element: Any) -> Encoder | None:
    """An :class:`Encoder` for an operation's input element (xmlschema), or None to keep zeep."""
    root = _compile(element, 0)
    return None if root is None or root.children is None or root.is_list else Encoder(root)


def compile_decoder(element: Any) -> Decoder | None:
    """A :class:`Decoder` for an operation's output element (xmlschema), or None to keep zeep."""
    root = _compile(element, 0)
    return None if root is None or root.children is None or root.is_list else Decoder(root)


def envelope(soap_ns: str, encoder: Encoder, values: Mapping[str, Any],
             header_elements: list[etree._Element] | None) -> tuple[etree._Element, etree._Element]:
    """(envelope, body element) built as zeep's ``create_message`` builds them: same prefixes, same order."""
    root = etree.Element(f"{{{soap_ns}}}Envelope", nsmap={"soap-env": soap_ns})
    if header_elements:
        header = etree.SubElement(root, f"{{{soap_ns}}}Header")
        for element in header_elements:
            header.append(element)
    body = etree.SubElement(root, f"{{{soap_ns}}}Body")
    return root, encoder.render(body, values)
