"""The signed documents inside an edXML packet: its attachments.

An edXML packet's own XML signature (if any) covers the envelope; the official documents travel as
base64 attachments in ``AttachmentEncoded`` and usually carry their own PDF signatures. A gateway policy
of ``require`` must check those too, so this module lists the attachments (namespace-aware, accepting
both spellings described in PROTOCOLS §1.1) and decodes them for verification.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from .xmldsig import parse


@dataclass(frozen=True)
class Attachment:
    content_id: str
    name: str
    content_type: str
    data: bytes | None  # None when the payload is not valid base64
    error: str | None = None

    @property
    def is_pdf(self) -> bool:
        return self.content_type.lower() == "application/pdf" or self.name.lower().endswith(".pdf")


def _text(element: etree._Element, local: str) -> str:
    value = element.xpath(f"string(./*[local-name()='{local}'])")
    return str(value).strip()


def attachments(data: bytes, max_bytes: int = 64 * 1024 * 1024) -> list[Attachment]:
    """Every ``AttachmentEncoded/Attachment`` of an edXML packet, decoded. Raises on unacceptable XML."""
    root = parse(data, max_bytes)
    found = root.xpath("./*[local-name()='AttachmentEncoded']/*[local-name()='Attachment']")
    result: list[Attachment] = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, etree._Element):
            continue
        content_id = _text(item, "ContentId").removeprefix("cid:")  # builders differ on the prefix
        encoded = "".join(_text(item, "ContentTransferEncoded").split())
        try:
            payload: bytes | None = base64.b64decode(encoded, validate=True)
            error = None
        except (binascii.Error, ValueError) as exc:
            payload, error = None, f"attachment is not valid base64: {exc}"
        result.append(Attachment(content_id, _text(item, "AttachmentName"), _text(item, "ContentType"), payload,
                                 error))
    return result
