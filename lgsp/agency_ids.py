"""Which agency identifiers lgsp accepts: our canonical form plus the forms seen in real traffic.

QCVN 102:2016's ``NNN.NN.NN.XNN`` (13 characters) is right for codes *we* issue, but packets relayed by
the national axis and the VNPT VXP SaaS axis carry other forms (PROTOCOLS.md §1.9): a two-letter level-1
group (``001.00.20.TT2``, added by the axis to a trace), SaaS tenant ids (``vxp.saas.03``) and older short
codes (``28.22.H17``). Refusing those loses documents, so the registry, the edXML reader and writer, the
axis simulator and the conformance checks all ask this one module. The set is a setting
(``LGSP_AGENCY_ID_PATTERNS``: regular expressions separated by ``;``) so an operator can add a form seen
in the field without a release; :func:`is_canonical` stays the strict rule for new codes.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache

ENV = "LGSP_AGENCY_ID_PATTERNS"
CANONICAL_PATTERN = r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}"
#: The default accepted set: canonical, two-letter level-1 group, VXP SaaS tenants, older short codes.
DEFAULT_PATTERNS: tuple[str, ...] = (
    CANONICAL_PATTERN,
    r"\d{3}\.\d{2}\.\d{2}\.[A-Z]{2}\d{1,2}",
    r"vxp\.saas\.\d{2,3}",
    r"\d{2}\.\d{2}\.[A-Z]\d{2}",
)
#: Longest identifier any pattern may match: the store's columns are sized for it.
MAX_LENGTH = 40
_CANONICAL = re.compile(CANONICAL_PATTERN)


def patterns_from(spec: str | None) -> tuple[str, ...]:
    """Parse a ``;``-separated list of regular expressions (empty → the defaults); ValueError if one is bad."""
    items = tuple(p.strip() for p in (spec or "").split(";") if p.strip())
    for item in items:
        try:
            re.compile(item)
        except re.error as exc:
            raise ValueError(f"{ENV}: {item!r} is not a regular expression: {exc}") from None
    return items or DEFAULT_PATTERNS


_configured: str = ""


def configure(spec: str | None) -> None:
    """Set the accepted forms from the ``agency_id_patterns`` setting (the environment still wins)."""
    global _configured
    patterns_from(spec)  # refuse a bad pattern at start-up, not on the first packet
    _configured = spec or ""


def _spec() -> str:
    return os.environ.get(ENV, "") or _configured


@lru_cache(maxsize=8)
def _compiled(spec: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns_from(spec)))


def accepted_patterns() -> tuple[str, ...]:
    """The patterns in force (the environment is read on each call, the regex compiled once per value)."""
    return patterns_from(_spec())


def is_accepted(value: str) -> bool:
    """True when ``value`` is an identifier of one of the accepted forms."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_LENGTH
        and _compiled(_spec()).fullmatch(value) is not None
    )


@lru_cache(maxsize=8)
def _matcher(spec: str) -> Callable[[str], bool]:
    fullmatch = _compiled(spec).fullmatch

    def accepted(value: str) -> bool:
        return isinstance(value, str) and 0 < len(value) <= MAX_LENGTH and fullmatch(value) is not None

    return accepted


def matcher() -> Callable[[str], bool]:
    """:func:`is_accepted` bound to the patterns in force now (the environment is read once, here).

    For a caller that checks several identifiers at once (the edXML reader: one per OrganId of a packet),
    which would otherwise read the environment for each; the function is cached per setting value.
    """
    return _matcher(_spec())


def is_canonical(value: str) -> bool:
    """True only for the 13-character ``NNN.NN.NN.XNN`` form (what lgsp issues for its own agencies)."""
    return isinstance(value, str) and _CANONICAL.fullmatch(value) is not None


def describe() -> str:
    """A human line for error messages."""
    return "an agency code (NNN.NN.NN.XNN, or a form in " + ENV + ")"
