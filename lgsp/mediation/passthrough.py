"""SOAP pass-through: forward a client's own SOAP envelope, only replacing the X-Road headers.

A SOAP-speaking department system may call lgsp with a complete envelope. lgsp must not re-encode the
body (it could carry signatures or constructs mediation does not model); it only asserts who is calling
by replacing the X-Road identity headers with the values derived from the authenticated client.

Before that, the envelope's shape is checked: one Header at most, before exactly one Body holding one
element. A second Header was forwarded untouched, so a caller's own ``xrd:client`` in it reached the
provider next to lgsp's; and the Body's element is what the provider executes, so the gateway must know
it (:func:`read_passthrough`) to hold it to the operation the caller was granted.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from lgsp.safexml import UnsafeXmlError, parse_xml

from .errors import FieldError, MediationInputError
from .soapenv import SOAP_NAMESPACES
from .xroad import XROAD_NS, XRoadHeaders

__all__ = ["OWNED_HEADERS", "PassThrough", "apply_xroad_headers", "read_passthrough"]

#: X-Road header blocks only lgsp writes: a caller's own are removed even when lgsp has no value for
#: them (an ``xrd:userId`` sent without ``X-LGSP-User-Id`` reached the provider as the caller wrote it).
OWNED_HEADERS = frozenset(f"{{{XROAD_NS}}}{name}" for name in (
    "client", "service", "id", "userId", "protocolVersion", "requestHash"))


@dataclass(frozen=True)
class PassThrough:
    """A checked caller envelope: its tree, SOAP namespace and the Body's element (Clark notation)."""

    root: etree._Element
    soap_ns: str
    body_element: str
    #: the texts of WS-Addressing ``Action`` headers: WCF-style providers dispatch on them
    addressing_actions: tuple[str, ...] = ()


_WSA_ACTIONS = frozenset({"{http://www.w3.org/2005/08/addressing}Action",
                          "{http://schemas.xmlsoap.org/ws/2004/08/addressing}Action"})


def _refuse(message: str) -> MediationInputError:
    return MediationInputError([FieldError("Envelope", message)])


def read_passthrough(envelope: bytes) -> PassThrough:
    """Parse and check a caller's envelope, or :class:`MediationInputError` saying what is wrong with it."""
    try:
        root = parse_xml(envelope)
    except UnsafeXmlError as exc:
        raise _refuse(f"not acceptable XML: {exc}") from exc
    qname = etree.QName(root)
    if qname.localname != "Envelope" or qname.namespace not in SOAP_NAMESPACES:
        raise _refuse(f"root element {root.tag!r} is not a SOAP Envelope")
    soap_ns = qname.namespace
    children = [child for child in root if isinstance(child.tag, str)]
    names = [etree.QName(child).localname if etree.QName(child).namespace == soap_ns else child.tag
             for child in children]
    if names not in (["Body"], ["Header", "Body"]):
        raise _refuse(f"a SOAP Envelope holds an optional Header then one Body, not {', '.join(names) or 'nothing'}")
    body = children[-1]
    payload = [child for child in body if isinstance(child.tag, str)]
    if len(payload) != 1:
        raise _refuse(f"the SOAP Body must hold exactly one operation element, not {len(payload)}")
    header = children[0] if len(children) == 2 else None
    actions = tuple((el.text or "").strip() for el in (header if header is not None else ())
                    if el.tag in _WSA_ACTIONS)
    return PassThrough(root, soap_ns, str(payload[0].tag), actions)


def apply_xroad_headers(envelope: bytes | PassThrough, headers: XRoadHeaders) -> bytes:
    """Return ``envelope`` with its X-Road headers added or replaced; everything else is kept as is.

    Raises :class:`MediationInputError` when the bytes are not a SOAP 1.1/1.2 envelope (including XML
    with a DTD, which the hardened parser refuses). The result is always UTF-8, whatever the input's
    encoding: the caller of this function labels it so.
    """
    checked = envelope if isinstance(envelope, PassThrough) else read_passthrough(envelope)
    root, soap_ns = checked.root, checked.soap_ns
    header = root.find(f"{{{soap_ns}}}Header")
    if header is None:
        header = etree.Element(f"{{{soap_ns}}}Header")
        root.insert(0, header)
    new = headers.elements()
    for child in list(header):
        if isinstance(child.tag, str) and child.tag in OWNED_HEADERS:
            header.remove(child)
    for index, el in enumerate(new):
        header.insert(index, el)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
