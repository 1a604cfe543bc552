"""Upstream XML replies with a document type declaration are not passed on (issue 19.8).

A provider (compromised, or just careless) that answers with `<!DOCTYPE ...>` hands every caller an
XXE or entity-expansion payload: the caller's parser, not lgsp's, would resolve it. lgsp's own parsing
refuses DTDs (`lgsp.safexml`); on pass-through the reply is not parsed, so this module looks at its prolog
only (XML declaration, comments, processing instructions, whitespace) for a DOCTYPE before the root
element. The check is cheap and runs on the buffered head of the reply, before any byte is sent.
"""

from __future__ import annotations

import codecs
import zlib
from functools import lru_cache

XML_TYPES = ("text/xml", "application/xml", "application/soap+xml", "text/xml-external-parsed-entity")


@lru_cache(maxsize=256)
def is_xml(content_type: str | None) -> bool:
    """Whether a reply's Content-Type is XML. Cached: providers answer with a handful of distinct values, and
    this runs on every call (issue 14.1); the cache is bounded, so odd values cannot grow it."""
    media = (content_type or "").split(";")[0].strip().lower()
    return media in XML_TYPES or media.endswith("+xml")


def _text(head: bytes) -> str:
    """The head decoded well enough to read markup: by BOM or by the NUL pattern of UTF-16/32."""
    for bom, encoding in ((codecs.BOM_UTF32_LE, "utf-32-le"), (codecs.BOM_UTF32_BE, "utf-32-be"),
                          (codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            return head[len(bom):].decode(encoding, "ignore")
    if head[:4] == b"<\x00\x00\x00":
        return head.decode("utf-32-le", "ignore")
    if head[:4] == b"\x00\x00\x00<":
        return head.decode("utf-32-be", "ignore")
    if head[:2] == b"<\x00":
        return head.decode("utf-16-le", "ignore")
    if head[:2] == b"\x00<":
        return head.decode("utf-16-be", "ignore")
    return head.decode("latin-1")  # ASCII-compatible encodings: markup bytes read the same


def declares_dtd(head: bytes) -> bool:
    """True when the prolog of this XML (its first bytes) holds a `<!DOCTYPE`."""
    text = _text(head[:1024 * 1024])
    i, end = 0, len(text)
    while i < end:
        while i < end and text[i] in " \t\r\n":
            i += 1
        if text.startswith("<?", i):
            marker, start = "?>", i + 2
        elif text.startswith("<!--", i):
            marker, start = "-->", i + 4
        elif text[i:i + 9].upper() == "<!DOCTYPE":
            return True
        else:
            return False  # the root element (or not XML at all): no DTD can follow
        close = text.find(marker, start)
        if close < 0:
            return False
        i = close + len(marker)
    return False


#: Of a compressed reply, this much is decoded to find its prolog (a DOCTYPE comes before the root element).
_DECODED_HEAD = 64 * 1024


def decoded_head(body: bytes, encoding: str | None) -> bytes:
    """The first bytes of ``body`` as the caller will read them: decoded when its Content-Encoding is
    gzip or deflate (at most 64 KiB of output, so a compression bomb costs nothing). ``ValueError`` for an
    encoding that cannot be decoded here; a corrupt stream decodes to what could be read."""
    tokens = [t.strip().lower() for t in (encoding or "").split(",") if t.strip() and t.strip().lower() != "identity"]
    if not tokens:
        return body
    if len(tokens) > 1 or tokens[0] not in ("gzip", "x-gzip", "deflate"):
        raise ValueError(f"Content-Encoding {encoding!r}")
    modes = (31,) if tokens[0] != "deflate" else (15, -15)  # deflate: zlib-wrapped, or raw as some servers send
    for wbits in modes:
        try:
            return zlib.decompressobj(wbits).decompress(body, _DECODED_HEAD)
        except zlib.error:
            continue
    return b""
