"""The tolerant reader's working state and field accessors (part of :mod:`.reader`).

Every accessor answers with a value or records a :class:`Deviation` on the :class:`_Ctx`; only a required
field that is missing or unreadable raises :class:`EdxmlError`. The rest of the reader is written in these
terms, so the tolerance rules (duplicates, null OrganIds, odd dates) live in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from lxml import etree

from lgsp import agency_ids

from . import payloads
from .errors import Deviation, EdxmlError
from .formats import NAMESPACE, NULL_TEXTS
from .formats import parse_date as _parse_date
from .formats import parse_timestamp as _parse_timestamp


class _Ctx:
    """Collects deviations (deduplicated by code and path)."""

    def __init__(self) -> None:
        self.deviations: list[Deviation] = []
        self._seen: set[tuple[str, str]] = set()
        #: base64 payloads cut out before parsing, by the marker text left in their element
        self.payloads: dict[str, payloads.Payload] = {}
        #: namespaces declared in the packet other than edXML and XLink (foreign elements are possible)
        self.foreign_namespaces = True
        #: the packet contains an xmlns="" (elements in no namespace are possible)
        self.undeclares_default = True
        self._index: dict[etree._Element, dict[str, etree._Element]] = {}
        #: element -> {name: count} for the names that occur more than once among its children (rare)
        self._dups: dict[etree._Element, dict[str, int]] = {}
        self._agency_match: Callable[[str], bool] | None = None

    def children(self, element: etree._Element) -> dict[str, etree._Element]:
        """The first child of ``element`` by local name, for children in the edXML namespace or in none
        (built once per element: the reader asks each element for ten or so names, so one pass beats ten
        filtered scans). Names that repeat are counted in ``_dups`` for the duplicate-element warning."""
        found = self._index.get(element)
        if found is None:
            found = {}
            names = _LOCAL_NAMES
            repeated = False
            for child in element:  # comments and PIs have a non-str tag, which maps to ""
                tag = child.tag  # the costly part (lxml builds "{namespace}name"): read once per child
                name = names.get(tag)
                if name is None:
                    name = _cached_name(tag)
                # setdefault: one dict operation keeps the first child and tells whether the name was taken
                if name and found.setdefault(name, child) is not child:
                    repeated = True
            if repeated:
                self._count_repeats(element)
            self._index[element] = found
        return found

    def _count_repeats(self, element: etree._Element) -> None:
        counts: dict[str, int] = {}
        for child in element:
            name = _reader_name(child.tag)
            if name:
                counts[name] = counts.get(name, 0) + 1
        self._dups[element] = {name: n for name, n in counts.items() if n > 1}

    def agency_match(self) -> Callable[[str], bool]:
        """``lgsp.agency_ids``' test for the patterns in force, looked up once per packet."""
        match = self._agency_match
        if match is None:
            match = self._agency_match = agency_ids.matcher()
        return match

    def warn(self, code: str, path: str, message: str) -> None:
        if (code, path) not in self._seen:
            self._seen.add((code, path))
            self.deviations.append(Deviation(code, path, message))


def _local(element: etree._Element) -> str:
    tag = element.tag
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


_QUALIFIED: dict[str, str] = {}

_NS_PREFIX = f"{{{NAMESPACE}}}"

_NS_LENGTH = len(_NS_PREFIX)


def _reader_name(tag: object) -> str:
    """The local name the reader knows ``tag`` by: edXML namespace or none; "" for a foreign element (and
    for a comment or processing instruction, whose lxml tag is a factory function)."""
    if not isinstance(tag, str):
        return ""
    if tag.startswith(_NS_PREFIX):
        return tag[_NS_LENGTH:]
    return tag if tag[:1] != "{" else ""


#: tag -> :func:`_reader_name` (a packet has a few dozen distinct tags; bounded so hostile input cannot grow it)
_LOCAL_NAMES: dict[object, str] = {}

_MAX_CACHED_NAMES = 4096


def _cached_name(tag: object) -> str:
    """:func:`_reader_name`, remembered in ``_LOCAL_NAMES`` while it has room."""
    name = _reader_name(tag)
    if len(_LOCAL_NAMES) < _MAX_CACHED_NAMES:
        _LOCAL_NAMES[tag] = name
    return name


def _kids(element: etree._Element, name: str) -> list[etree._Element]:
    """Children named ``name`` in the edXML namespace or (wrongly) in no namespace (filtered in C)."""
    qualified = _QUALIFIED.get(name)
    if qualified is None:
        qualified = _QUALIFIED[name] = f"{{{NAMESPACE}}}{name}"
    return list(element.iterchildren(qualified, name))


def _all(ctx: _Ctx, element: etree._Element, name: str) -> list[etree._Element]:
    """What :func:`_kids` answers (children named ``name`` in the edXML namespace or in none, in document
    order), from the child index: a list of one unless the name repeats (a filtered scan costs ~1 µs)."""
    first = ctx.children(element).get(name)
    if first is None:
        return []
    if ctx._dups and name in ctx._dups.get(element, ()):
        return [child for child in element if _reader_name(child.tag) == name]
    return [first]


def _duplicate(ctx: _Ctx, element: etree._Element, name: str, path: str) -> None:
    count = ctx._dups.get(element, {}).get(name, 1)
    if count > 1:
        ctx.warn("duplicate-element", f"{path}/{name}", f"{count} {name} elements; the first is used")


def _kid(ctx: _Ctx, element: etree._Element, name: str, path: str) -> etree._Element | None:
    found = ctx.children(element).get(name)
    if found is not None and ctx._dups:
        _duplicate(ctx, element, name, path)
    return found


def _need(ctx: _Ctx, element: etree._Element, name: str, path: str) -> etree._Element:
    found = _kid(ctx, element, name, path)
    if found is None:
        raise EdxmlError("missing-field", f"required element {name} is missing", f"{path}/{name}")
    return found


def _text(ctx: _Ctx, element: etree._Element | None, name: str, path: str, *, required: bool = False) -> str:
    value = ""
    if element is not None:  # _kid inlined: this runs ~60 times per packet
        index = ctx._index.get(element)
        found = (index if index is not None else ctx.children(element)).get(name)
        if found is not None:
            if ctx._dups:
                _duplicate(ctx, element, name, path)
            text = found.text
            if text:
                value = text.strip()
    if required and not value:
        raise EdxmlError("missing-field", f"required field {name} is missing or empty", f"{path}/{name}")
    return value


def _texts(ctx: _Ctx, element: etree._Element | None, names: tuple[str, ...], path: str) -> list[str]:
    """:func:`_text` of several names of one element, in order (one call instead of one per field: the
    reader's leaf blocks, From/To, StaffInfo, SignerInfo, are runs of plain optional texts)."""
    if element is None:
        return [""] * len(names)
    index = ctx._index.get(element)
    if index is None:
        index = ctx.children(element)
    repeats = ctx._dups.get(element) if ctx._dups else None
    values: list[str] = []
    for name in names:
        found = index.get(name)
        if found is None:
            values.append("")
            continue
        if repeats and name in repeats:
            _duplicate(ctx, element, name, path)
        text = found.text
        values.append(text.strip() if text else "")
    return values


def _int(
    ctx: _Ctx,
    element: etree._Element | None,
    name: str,
    path: str,
    default: int = 0,
    *,
    required: bool = False,
) -> int:
    text = _text(ctx, element, name, path, required=required)
    if not text:
        return default
    try:
        return int(text)
    except ValueError:
        if required:
            raise EdxmlError("bad-number", f"{text!r} is not an integer", f"{path}/{name}") from None
        ctx.warn("bad-number", f"{path}/{name}", f"{text!r} is not an integer; {default} assumed")
        return default


def _when(ctx: _Ctx, text: str, path: str, parse: Callable[[str], tuple[Any, bool]], what: str, pattern: str,
          required: bool) -> Any:
    """A date or timestamp: canonical, tolerated with a warning, or (if required) a hard error."""
    if not text:
        if required:
            raise EdxmlError("missing-field", f"required {what} is missing", path)
        return None
    try:
        value, canonical = parse(text)
    except ValueError as exc:
        if required:
            raise EdxmlError("bad-date", str(exc), path) from None
        ctx.warn("bad-date", path, f"{exc}; ignored")
        return None
    if not canonical:
        ctx.warn("date-format", path, f"{text!r} is not {pattern}")
    return value


def _date(ctx: _Ctx, text: str, path: str, *, required: bool = False) -> date | None:
    result: date | None = _when(ctx, text, path, _parse_date, "date", "yyyy/MM/dd", required)
    return result


def _timestamp(ctx: _Ctx, text: str, path: str, *, required: bool = False) -> datetime | None:
    result: datetime | None = _when(ctx, text, path, _parse_timestamp, "timestamp", "yyyy/MM/dd HH:mm:ss", required)
    return result


def _organ_id(ctx: _Ctx, value: str, path: str) -> str:
    """An OrganId as received; the literal ``null`` some producers write is a missing value, not a code."""
    if value.lower() in NULL_TEXTS:
        ctx.warn("missing-organ-id", path, f"OrganId {value!r} is a placeholder; read as missing")
        return ""
    if value and not ctx.agency_match()(value):
        ctx.warn("organ-id-format", path, f"{value!r} is not an accepted agency identifier ({agency_ids.ENV})")
    return value


def _required_organ_id(ctx: _Ctx, element: etree._Element, path: str) -> str:
    value = _organ_id(ctx, _text(ctx, element, "OrganId", path, required=True), f"{path}/OrganId")
    if not value:
        raise EdxmlError("missing-field", "required field OrganId is missing (null)", f"{path}/OrganId")
    return value


def _bool(ctx: _Ctx, text: str, path: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1"):
        return True
    if lowered not in ("", "false", "0"):
        ctx.warn("bad-boolean", path, f"{text!r} is not a boolean; false assumed")
    return False


def _optional_text(ctx: _Ctx, element: etree._Element, name: str, path: str) -> str | None:
    child = _kid(ctx, element, name, path)
    return None if child is None else (child.text or "").strip()
