"""DVCQG timestamps: ``yyyyMMddHHmmss`` in Vietnam time (PROTOCOLS §4.1 [C]).

The portal's wire format carries no zone, so every conversion pins Asia/Ho_Chi_Minh explicitly; an
aware ``datetime`` in any zone is converted, a naive one is refused because guessing its zone is how
dossiers end up seven hours off.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

#: Vietnam has used UTC+7 without daylight saving since 1975, so a fixed offset equals
#: Asia/Ho_Chi_Minh and needs no tz database on the host.
VIETNAM_TZ = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")

DVCQG_FORMAT = "%Y%m%d%H%M%S"
_SHAPE = re.compile(r"\d{14}")


class TimestampError(ValueError):
    """A value is not a valid ``yyyyMMddHHmmss`` timestamp."""


def format_timestamp(moment: datetime) -> str:
    """Render an aware datetime as the portal expects (Vietnam local time, 14 digits)."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise TimestampError("naive datetime: give a timezone-aware value so it can be converted to UTC+7")
    return moment.astimezone(VIETNAM_TZ).strftime(DVCQG_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse ``yyyyMMddHHmmss`` (Vietnam time) into an aware datetime, or raise :class:`TimestampError`."""
    if not isinstance(text, str) or not _SHAPE.fullmatch(text):
        raise TimestampError(f"expected 14 digits yyyyMMddHHmmss (e.g. 20250131143000), got {text!r}")
    try:
        return datetime.strptime(text, DVCQG_FORMAT).replace(tzinfo=VIETNAM_TZ)
    except ValueError as exc:  # e.g. month 13 or 30 February
        raise TimestampError(f"not a real date/time: {text!r} ({exc})") from None


def now_timestamp() -> str:
    """The current moment in portal format."""
    return format_timestamp(datetime.now(VIETNAM_TZ))
