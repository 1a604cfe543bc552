"""SOAP pass-through: forward a client's own SOAP envelope, only replacing the X-Road headers.

A SOAP-speaking department system may call lgsp with a complete envelope. lgsp must not re-encode the
body (it could carry signatures or constructs mediation does not model); it only asserts who is calling
by replacing the X-Road identity headers with the values derived from the authenticated client.
"""

from __future__ import annotations

from lxml import etree

from lgsp.safexml import UnsafeXmlError, parse_xml

from .errors import FieldError, MediationInputError
from .soapenv import SOAP_NAMESPACES
from .xroad import XROAD_NS, XRoadHeaders

__all__ = ["apply_xroad_headers"]


def apply_xroad_headers(envelope: bytes, headers: XRoadHeaders) -> bytes:
    """Return ``envelope`` with its X-Road headers added or replaced; everything else is kept as is.

    Raises :class:`MediationInputError` when the bytes are not a SOAP 1.1/1.2 envelope (including XML
    with a DTD, which the hardened parser refuses).
    """
    try:
        root = parse_xml(envelope)
    except UnsafeXmlError as exc:
        raise MediationInputError([FieldError("Envelope", f"not acceptable XML: {exc}")]) from exc
    qname = etree.QName(root)
    if qname.localname != "Envelope" or qname.namespace not in SOAP_NAMESPACES:
        raise MediationInputError([FieldError("Envelope", f"root element {root.tag!r} is not a SOAP Envelope")])
    soap_ns = qname.namespace
    header = root.find(f"{{{soap_ns}}}Header")
    if header is None:
        header = etree.Element(f"{{{soap_ns}}}Header")
        root.insert(0, header)
    new = headers.elements()
    replaced = {el.tag for el in new}
    for child in list(header):
        if isinstance(child.tag, str) and child.tag.startswith(f"{{{XROAD_NS}}}") and child.tag in replaced:
            header.remove(child)
    for index, el in enumerate(new):
        header.insert(index, el)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
