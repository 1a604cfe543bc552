"""The edXML reader's accessor layer as it was before the child index kept one element per name (main at
54a1a63): the oracle of ``test_edxml_fast_read_property``. Not used by lgsp; do not edit except to follow a
deliberate change of the reader's answers.
"""
# size: a frozen copy of the previous read_context.py plus its date parsing, kept whole on purpose


from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from lxml import etree

from adapters.vdxp.edxml import payloads
from adapters.vdxp.edxml.errors import Deviation, EdxmlError
from adapters.vdxp.edxml.formats import (
    _DATE_VARIANTS,
    _TIMESTAMP_VARIANTS,
    DATE_FORMAT,
    NAMESPACE,
    NULL_TEXTS,
    TIMESTAMP_FORMAT,
    is_agency_code,
)
from lgsp import agency_ids


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
        self._index: dict[etree._Element, dict[str, list[etree._Element]]] = {}

    def children(self, element: etree._Element) -> dict[str, list[etree._Element]]:
        """Children of ``element`` in the edXML namespace or in none, by local name (built once per element:
        the reader asks each element for ten or so names, so one pass beats ten filtered scans)."""
        found = self._index.get(element)
        if found is None:
            found = {}
            names = _LOCAL_NAMES
            for child in element.iterchildren(etree.Element):  # elements only (no comments or PIs), in C
                tag = child.tag
                name = names.get(tag)
                if name is None:
                    name = _reader_name(tag)
                    if len(names) < _MAX_CACHED_NAMES:
                        names[tag] = name
                if name:
                    same = found.get(name)
                    if same is None:
                        found[name] = [child]
                    else:
                        same.append(child)
            self._index[element] = found
        return found

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


def _reader_name(tag: str) -> str:
    """The local name the reader knows ``tag`` by: edXML namespace or none; "" for a foreign element."""
    if tag.startswith(_NS_PREFIX):
        return tag[_NS_LENGTH:]
    return tag if tag[:1] != "{" else ""


#: tag -> :func:`_reader_name` (a packet has a few dozen distinct tags; bounded so hostile input cannot grow it)
_LOCAL_NAMES: dict[str, str] = {}

_MAX_CACHED_NAMES = 4096


def _kids(element: etree._Element, name: str) -> list[etree._Element]:
    """Children named ``name`` in the edXML namespace or (wrongly) in no namespace (filtered in C)."""
    qualified = _QUALIFIED.get(name)
    if qualified is None:
        qualified = _QUALIFIED[name] = f"{{{NAMESPACE}}}{name}"
    return list(element.iterchildren(qualified, name))


def _kid(ctx: _Ctx, element: etree._Element, name: str, path: str) -> etree._Element | None:
    found = ctx.children(element).get(name, ())
    if len(found) > 1:
        ctx.warn("duplicate-element", f"{path}/{name}", f"{len(found)} {name} elements; the first is used")
    return found[0] if found else None


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
        if found:
            if len(found) > 1:
                ctx.warn("duplicate-element", f"{path}/{name}", f"{len(found)} {name} elements; the first is used")
            text = found[0].text
            value = text.strip() if text else ""
    if required and not value:
        raise EdxmlError("missing-field", f"required field {name} is missing or empty", f"{path}/{name}")
    return value


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
    if value and not is_agency_code(value):
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


# --- the previous date parsing (formats.py) ---


def _canonical_fields(text: str, length: int) -> list[int] | None:
    """The numbers of a zero-padded ``yyyy/MM/dd[ HH:mm:ss]`` of exactly ``length`` characters, or None.

    The packets lgsp reads almost always carry exactly this shape, and ``strptime`` costs more than the
    rest of reading a date; anything else (unpadded, variants, junk) goes to ``strptime`` as before.
    """
    if len(text) != length or text[4:5] != "/" or text[7:8] != "/":
        return None
    parts = [text[0:4], text[5:7], text[8:10]]
    if length > 10:
        if text[10] != " " or text[13] != ":" or text[16] != ":":
            return None
        parts += (text[11:13], text[14:16], text[17:19])
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    return [int(part) for part in parts]


def _parse_date(text: str) -> tuple[date, bool]:
    """Return ``(date, canonical)``; ``canonical`` is False when a tolerated variant was used."""
    text = text.strip()
    fields = _canonical_fields(text, 10)
    if fields is not None:
        try:
            year, month, day = fields
            return date(year, month, day), True
        except ValueError:
            pass  # e.g. 2026/02/30: strptime gives the error message
    try:
        return datetime.strptime(text, DATE_FORMAT).date(), True
    except ValueError:
        pass
    for variant in _DATE_VARIANTS:
        try:
            return datetime.strptime(text, variant).date(), False
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date in the form yyyy/MM/dd")


def _parse_timestamp(text: str) -> tuple[datetime, bool]:
    """Return ``(datetime, canonical)``; see :func:`parse_date`."""
    text = text.strip()
    fields = _canonical_fields(text, 19)
    if fields is not None:
        try:
            year, month, day, hour, minute, second = fields
            return datetime(year, month, day, hour, minute, second), True
        except ValueError:
            pass
    try:
        return datetime.strptime(text, TIMESTAMP_FORMAT), True
    except ValueError:
        pass
    for variant in _TIMESTAMP_VARIANTS:
        try:
            return datetime.strptime(text, variant), False
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a timestamp in the form yyyy/MM/dd HH:mm:ss")
