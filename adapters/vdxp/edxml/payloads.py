"""Attachment payloads kept out of the XML parser: one pass over the bytes, no huge_tree, lazy base64.

An edXML packet is almost all base64 (``ContentTransferEncoded``). Handing that text to libxml2 costs a
parse of every byte, a copy into the tree, and — past 10 MB in one text node — libxml2's "huge" mode,
which lifts *all* its safety limits. Instead, before parsing, each payload that is plainly a text node
of base64 characters is cut out and replaced by a short marker carrying a per-read random nonce; the
skeleton (a few KB) is parsed with the normal hardened limits, and each attachment keeps a zero-copy
``memoryview`` of its payload in the original bytes, decoded only when someone reads ``content``.

A payload that is anything else (entities, CDATA, nested elements, non-base64 characters) is left in
place for the parser and the reader's strict decoding to judge, so nothing here widens what is
accepted: the marker is only honoured inside a real ``ContentTransferEncoded`` element of the parsed
tree, and a nonce an attacker cannot guess keeps literal marker text from aliasing another payload.
"""

from __future__ import annotations

import binascii
import os
import string
from dataclasses import dataclass

_TAG = b"ContentTransferEncoded"
_BASE64 = (string.ascii_letters + string.digits + "+/=").encode()
_WHITESPACE = b" \t\r\n"
_NAME_CHARS = frozenset((string.ascii_letters + string.digits + "_.-").encode())


@dataclass(frozen=True)
class Payload:
    """One base64 payload, as offsets into the packet bytes (no copy)."""

    data: bytes
    start: int
    stop: int
    #: how many whitespace bytes the payload holds (counted by the extraction's character check); None: count
    whitespace: int | None = None

    def __len__(self) -> int:
        return self.stop - self.start

    def problem(self) -> str | None:
        """Why this payload (base64 characters and whitespace only) would not decode strictly, or None.

        Cheap structural checks instead of a decode: the length without whitespace is a multiple of 4
        and ``=`` appears only as the last one or two characters. With the character check done at
        extraction, strict decoding can no longer fail, so decoding can wait until ``content`` is read.
        """
        data, start, stop = self.data, self.start, self.stop
        whitespace = self.whitespace
        if whitespace is None:
            whitespace = sum(data.count(ch, start, stop) for ch in (b" ", b"\n", b"\r", b"\t")
                             if data.find(ch, start, stop) >= 0)
        size = (stop - start) - whitespace
        if size % 4:
            return f"base64 text of {size} characters is truncated (not a multiple of 4)"
        first_pad = data.find(b"=", start, stop)
        if first_pad >= 0 and data[first_pad:stop].translate(None, _WHITESPACE) not in (b"=", b"=="):
            return "padding '=' before the end of the base64 text"
        return None

    def decode(self) -> bytes:
        """The decoded bytes (strict; whitespace-wrapped base64 is unwrapped first)."""
        view = memoryview(self.data)[self.start : self.stop]
        try:
            return binascii.a2b_base64(view, strict_mode=True)
        except binascii.Error:
            return binascii.a2b_base64(b"".join(bytes(view).split()), strict_mode=True)


@dataclass
class Extracted:
    """The skeleton to parse and the payloads cut out of it, by marker text."""

    skeleton: bytes
    payloads: dict[str, Payload]


def _is_open_tag(data: bytes, at: int) -> int:
    """If ``data[at:]`` starts the name of a start tag ``<[prefix:]ContentTransferEncoded ...>``, return the
    index just past its ``>``; otherwise -1."""
    i = at - 1
    if i >= 0 and data[i] == 0x3A:  # ':' - a prefix before the local name
        i -= 1
        while i >= 0 and data[i] in _NAME_CHARS:
            i -= 1
    if i < 0 or data[i] != 0x3C:  # '<'
        return -1
    after = at + len(_TAG)
    if after >= len(data) or data[after] not in b"> \t\r\n":
        return -1
    end = data.find(b">", after)
    if end < 0 or data[end - 1] == 0x2F:  # self-closing: nothing to extract
        return -1
    return end + 1


def _is_close_tag(data: bytes, at: int) -> bool:
    """True when ``data[at:]`` is ``</[prefix:]ContentTransferEncoded>``."""
    end = data.find(b">", at, at + 300)
    if end < 0:
        return False
    name = data[at + 2 : end].strip()
    return name == _TAG or name.endswith(b":" + _TAG)


_CHUNK = 64 * 1024  # small enough to stay off mmap and in cache


def _only_base64(data: bytes, start: int, stop: int) -> int | None:
    """How many whitespace bytes ``data[start:stop]`` holds when every byte is a base64 character or
    whitespace (so the payload is a plain text node); None when another byte is present.

    Checked in 64 KB slices: a slice of ``bytes`` is a copy, and one slice of a 67 MB payload would be a
    second copy of the packet. What the deletion leaves is the whitespace, so it is counted for free."""
    whitespace = 0
    for at in range(start, stop, _CHUNK):
        rest = data[at : min(at + _CHUNK, stop)].translate(None, _BASE64)
        if rest:
            if rest.translate(None, _WHITESPACE):
                return None
            whitespace += len(rest)
    return whitespace


def extract(data: bytes, *, min_size: int = 64) -> Extracted:
    """Cut base64 payloads of at least ``min_size`` bytes out of ``data`` (see the module docstring)."""
    at = data.find(_TAG)
    if at < 0:
        return Extracted(data, {})
    nonce = os.urandom(8).hex()  # what secrets.token_hex(8) does, without two calls per read
    view = memoryview(data)
    parts: list[bytes | memoryview] = []
    payloads: dict[str, Payload] = {}
    last = 0
    while at >= 0:
        start = _is_open_tag(data, at)
        if start < 0:
            at = data.find(_TAG, at + len(_TAG))
            continue
        stop = data.find(b"<", start)
        if stop < 0:
            break
        whitespace = None
        if stop - start >= min_size and data[stop + 1 : stop + 2] == b"/" and _is_close_tag(data, stop):
            whitespace = _only_base64(data, start, stop)
        if whitespace is not None:
            marker = f"#lgsp-{nonce}-{len(payloads)}#"
            payloads[marker] = Payload(data, start, stop, whitespace)
            parts += (view[last:start], marker.encode("ascii"))
            last = stop
        at = data.find(_TAG, stop + 1)
    if not payloads:
        return Extracted(data, {})
    parts.append(view[last:])
    return Extracted(b"".join(parts), payloads)
