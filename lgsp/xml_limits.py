"""The XML bounds of each entry point (documents, signatures, SOAP, upstream answers), from the settings.

Kept apart from :mod:`lgsp.safexml` (the bottom module every layer may use) because it reads
:class:`~lgsp.settings.Settings`: the parser knows nothing of settings, the core decides the bounds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lgsp.safexml import XmlLimits

if TYPE_CHECKING:
    from lgsp.settings import Settings


def entry_limits(entry: str, max_bytes: int | None = None, settings: Settings | None = None) -> XmlLimits:
    """The limits of one entry point (documents, signatures, soap, upstream) from the settings."""
    if settings is None:
        from lgsp.settings import Settings

        settings = Settings.load()
    base = {"documents": _DOCUMENTS, "signatures": _SIGNATURES, "soap": _SOAP, "upstream": _UPSTREAM}[entry]
    limits = base.with_spec(getattr(settings, f"xml_limits_{entry}"))
    return limits if max_bytes is None else limits.capped(max_bytes)


#: Built-in bounds per entry point: far above any real edXML packet or SOAP message (hundreds of
#: elements, depth < 20), far below what exhausts a gateway's memory.
#: Documents: the size bound is LGSP_MAX_DOCUMENT_BYTES (the caller caps it), and one text run may be as long
#: as the packet, because a base64 attachment is one text run; the edXML reader cuts attachments out before
#: libxml2 parses the rest, whose text runs keep libxml2's own 10 MB bound.
_DOCUMENTS = XmlLimits(max_bytes=1 << 30, max_elements=50_000, max_depth=64, max_text=1 << 30)
_SIGNATURES = XmlLimits(max_bytes=64 * 1024 * 1024, max_elements=50_000, max_depth=64)
_SOAP = XmlLimits(max_bytes=64 * 1024 * 1024, max_elements=100_000, max_depth=100)
_UPSTREAM = XmlLimits(max_bytes=64 * 1024 * 1024, max_elements=200_000, max_depth=128)
