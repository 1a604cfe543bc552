"""Structural bounds for untrusted XML, checked by a streaming pre-scan before any tree is built.

A byte limit alone does not bound memory: 10 MB of ``<a/>`` is 2.5 million elements, and an lxml tree
(plus the Python proxies a reader creates while walking it) costs a hundred times the input. So before a
hardened parser builds a tree, :func:`check_bounds` feeds the bytes in 64 KiB chunks to an lxml parser
whose *target* keeps only counters (no tree), and stops at the first chunk that crosses a bound:
element count, nesting depth, the length of one text run or attribute value, and the total size. It
refuses a DTD too. Memory during the scan is one chunk plus the parser's small state, whatever the input.

``signing/`` depends on nothing of ours, so this module lives here and ``lgsp.safexml`` re-exports it.

The scan costs a Python callback per element and text run. For an input too small to cross the element
and text bounds at all (:func:`size_proves_bounds`) a tree can be built directly — it is no bigger than
one the limits accept — and then only its depth needs checking (:func:`deeper_than`), in C.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from lxml import etree

CHUNK = 64 * 1024
#: libxml2's own cap on one text node without ``huge_tree`` (XML_MAX_TEXT_LENGTH).
LIBXML2_MAX_TEXT = 10_000_000
_NAMES = {"bytes": "max_bytes", "elements": "max_elements", "depth": "max_depth", "text": "max_text"}


@dataclass(frozen=True)
class XmlLimits:
    """The most one XML input may hold; each entry point has its own (settings ``xml_limits_*``)."""

    max_bytes: int = 64 * 1024 * 1024
    max_elements: int = 200_000
    max_depth: int = 256
    max_text: int = LIBXML2_MAX_TEXT  # characters in one text run or one attribute value

    def with_spec(self, spec: str) -> XmlLimits:
        """These limits with ``"elements=20000,depth=64,text=1000000,bytes=5242880"`` applied (any subset)."""
        changes: dict[str, int] = {}
        for item in (part.strip() for part in spec.split(",")):
            if not item:
                continue
            name, sep, value = item.partition("=")
            field = _NAMES.get(name.strip())
            if not sep or field is None:
                raise ValueError(f"XML limit {item!r}: use name=value with name one of {', '.join(_NAMES)}")
            try:
                number = int(value.strip().replace("_", ""))
            except ValueError:
                raise ValueError(f"XML limit {item!r}: the value must be an integer") from None
            if number <= 0:
                raise ValueError(f"XML limit {item!r}: the value must be positive")
            changes[field] = number
        return replace(self, **changes)

    def capped(self, max_bytes: int) -> XmlLimits:
        if max_bytes >= self.max_bytes:
            return self  # frozen: the same limits, without building a copy on every parse
        return replace(self, max_bytes=max_bytes)


DEFAULT_LIMITS = XmlLimits()


class XmlLimitError(ValueError):
    """The input crosses one of the bounds; ``limit`` names it (bytes, elements, depth, text), ``maximum``."""

    def __init__(self, limit: str, maximum: int, message: str) -> None:
        super().__init__(message)
        self.limit = limit
        self.maximum = maximum


class XmlDoctypeError(ValueError):
    """The input has a document type declaration (XXE, entity bombs): refused before it is parsed."""


class _Counter:
    """A parser target that keeps counts only; raising from a callback stops the parse at that chunk."""

    def __init__(self, limits: XmlLimits) -> None:
        self.limits = limits
        self.elements = 0
        self.depth = 0
        self.text_run = 0

    def start(self, tag: Any, attrib: Any, nsmap: Any = None) -> None:
        limits = self.limits
        self.elements += 1
        self.depth += 1
        self.text_run = 0
        if self.elements > limits.max_elements:
            raise XmlLimitError("elements", limits.max_elements,
                                f"XML has more than {limits.max_elements} elements")
        if self.depth > limits.max_depth:
            raise XmlLimitError("depth", limits.max_depth, f"XML nests deeper than {limits.max_depth} levels")
        for value in attrib.values():
            if len(value) > limits.max_text:
                raise XmlLimitError("text", limits.max_text,
                                    f"an XML attribute value is longer than {limits.max_text} characters")

    def end(self, tag: Any) -> None:
        self.depth -= 1
        self.text_run = 0

    def data(self, text: str) -> None:
        self.text_run += len(text)
        if self.text_run > self.limits.max_text:
            raise XmlLimitError("text", self.limits.max_text,
                                f"an XML text node is longer than {self.limits.max_text} characters")

    def doctype(self, *args: Any) -> None:
        raise XmlDoctypeError("XML with a document type declaration (DTD) is not accepted")

    def comment(self, text: str) -> None:
        self.data(text)

    def pi(self, target: str, data: str | None = None) -> None:
        self.data(data or "")

    def close(self) -> int:
        return self.elements


#: Fewest bytes one element takes (``<a/>``), and one more level of nesting (``<a>`` + ``</a>``).
_MIN_ELEMENT_BYTES = 4
_MIN_LEVEL_BYTES = 7


def size_proves_bounds(length: int, limits: XmlLimits) -> bool:
    """True when ``length`` bytes cannot hold more than ``max_elements`` elements, nor a text run, comment,
    processing instruction or attribute value longer than ``max_text`` characters (every character takes at
    least one byte; without a DTD no entity can expand). Depth is not implied (7 bytes a level) and the
    bytes must still be checked for a DTD."""
    return (length <= limits.max_bytes and length < _MIN_ELEMENT_BYTES * (limits.max_elements + 1)
            and length <= limits.max_text)


_DEPTH_PATHS: dict[int, etree.XPath] = {}


def deeper_than(root: etree._Element, length: int, max_depth: int) -> bool:
    """Whether the tree parsed from ``length`` bytes nests elements deeper than ``max_depth`` levels (the
    root is level 1), as :func:`check_bounds` counts them. One XPath step per level, evaluated in C."""
    if length < _MIN_LEVEL_BYTES * max_depth + _MIN_ELEMENT_BYTES:  # what max_depth + 1 levels take at least
        return False
    path = _DEPTH_PATHS.get(max_depth)
    if path is None:
        path = etree.XPath("boolean(/" + "/*" * (max_depth + 1) + ")")
        if len(_DEPTH_PATHS) < 64:
            _DEPTH_PATHS[max_depth] = path
    return bool(path(root))


def check_bounds(data: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> int:
    """Raise :class:`XmlLimitError` if ``data`` crosses ``limits`` (:class:`XmlDoctypeError` for a DTD,
    ``etree.XMLSyntaxError`` if malformed).

    Returns the element count. Costs one streaming pass with a few Python calls per element, up to the
    element bound at most, so a hostile input is refused after at most ``max_elements`` callbacks.
    """
    if len(data) > limits.max_bytes:
        raise XmlLimitError("bytes", limits.max_bytes,
                            f"XML of {len(data)} bytes exceeds the limit of {limits.max_bytes} bytes")
    parser = etree.XMLParser(target=_Counter(limits), resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=limits.max_text > LIBXML2_MAX_TEXT)
    view = memoryview(data)
    for offset in range(0, len(data), CHUNK):
        parser.feed(bytes(view[offset:offset + CHUNK]))
    count: int = parser.close()
    return count
