"""Date and identifier formats of QCVN 102:2016 (PROTOCOLS.md §1.7, §1.9).

The writer emits exactly one pattern per kind; the reader also understands a few variants seen in real
traffic (ISO dates, ``T`` separators) so that it can report them as deviations instead of failing.
"""

from __future__ import annotations

import re
from datetime import date, datetime

from lgsp import agency_ids

NAMESPACE = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
XMLDSIG_NAMESPACE = "http://www.w3.org/2000/09/xmldsig#"
XLINK_NAMESPACE = "http://www.w3.org/1999/xlink"
WRONG_NAMESPACES = frozenset({"http://www.go.vn/eDoc"})

DATE_FORMAT = "%Y/%m/%d"
TIMESTAMP_FORMAT = "%Y/%m/%d %H:%M:%S"

#: Alternative spellings the reader tolerates (with a ``date-format`` deviation).
_DATE_VARIANTS = ("%Y-%m-%d", "%d/%m/%Y")
_TIMESTAMP_VARIANTS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%dT%H:%M:%S", "%Y/%m/%d")

#: Electronic agency identifier ``NNN.NN.NN.XNN`` (QCVN 102:2016; positional rule is [I]).
AGENCY_CODE_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}$")
#: Literal placeholders some producers write where they have no value (PROTOCOLS.md §1.3).
NULL_TEXTS = frozenset({"null", "nil", "none", "(null)"})


def format_date(value: date) -> str:
    """``yyyy/MM/dd``."""
    return f"{value.year:04d}/{value.month:02d}/{value.day:02d}"


def format_timestamp(value: datetime) -> str:
    """``yyyy/MM/dd HH:mm:ss`` (local Vietnamese time; the format carries no zone)."""
    return f"{format_date(value)} {value.hour:02d}:{value.minute:02d}:{value.second:02d}"


def _canonical_fields(text: str, length: int) -> list[int] | None:
    """The numbers of a zero-padded ``yyyy/MM/dd[ HH:mm:ss]`` of exactly ``length`` characters, or None.

    The packets lgsp reads almost always carry exactly this shape, and ``strptime`` costs more than the
    rest of reading a date; anything else (unpadded, variants, junk) goes to ``strptime`` as before.
    """
    if len(text) != length or text[4] != "/" or text[7] != "/":
        return None
    if length > 10:
        if text[10] != " " or text[13] != ":" or text[16] != ":":
            return None
        digits = text[0:4] + text[5:7] + text[8:10] + text[11:13] + text[14:16] + text[17:19]
    else:
        digits = text[0:4] + text[5:7] + text[8:10]
    if not (digits.isascii() and digits.isdigit()):
        return None
    if length > 10:
        return [int(digits[0:4]), int(digits[4:6]), int(digits[6:8]), int(digits[8:10]), int(digits[10:12]),
                int(digits[12:14])]
    return [int(digits[0:4]), int(digits[4:6]), int(digits[6:8])]


def parse_date(text: str) -> tuple[date, bool]:
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


def parse_timestamp(text: str) -> tuple[datetime, bool]:
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


def is_agency_code(value: str) -> bool:
    """True when ``value`` is an accepted agency identifier (``lgsp.agency_ids``: canonical + real forms)."""
    return agency_ids.is_accepted(value)


def is_canonical_agency_code(value: str) -> bool:
    """True only for the strict 13-character ``NNN.NN.NN.XNN`` shape."""
    return bool(AGENCY_CODE_RE.match(value))
