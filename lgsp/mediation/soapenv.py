"""SOAP envelope constants and fault extraction shared by response parsing and pass-through."""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

from lgsp.safexml import UnsafeXmlError, parse_xml

from .errors import UpstreamFormatError

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP_NAMESPACES = (SOAP11_NS, SOAP12_NS)

__all__ = ["SOAP11_NS", "SOAP12_NS", "SOAP_NAMESPACES", "element_to_json", "fault_parts", "is_caller_fault",
           "read_envelope"]

_XML_MEDIA_TYPES = {"text/xml", "application/xml", "application/soap+xml"}
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


def element_to_json(el: etree._Element) -> Any:
    """A schema-less JSON view of an XML fragment (used only for fault details, which WSDLs rarely type).

    Leaves become their text; repeated child names become arrays.
    """
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        return (el.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        name = etree.QName(child).localname
        value = element_to_json(child)
        if name in out:
            if not isinstance(out[name], list):
                out[name] = [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    return out


def fault_parts(fault: etree._Element, soap_ns: str) -> tuple[str, str, Any, str | None]:
    """(code, string, detail, actor) of a SOAP 1.1 or 1.2 Fault element."""
    if soap_ns == SOAP12_NS:
        code = fault.findtext(f"{{{SOAP12_NS}}}Code/{{{SOAP12_NS}}}Value") or ""
        sub = fault.findtext(f"{{{SOAP12_NS}}}Code/{{{SOAP12_NS}}}Subcode/{{{SOAP12_NS}}}Value")
        if sub:
            code = f"{code}/{sub.strip()}"
        string = fault.findtext(f"{{{SOAP12_NS}}}Reason/{{{SOAP12_NS}}}Text") or ""
        detail_el = fault.find(f"{{{SOAP12_NS}}}Detail")
        actor = fault.findtext(f"{{{SOAP12_NS}}}Role")
    else:
        code = fault.findtext("faultcode") or ""
        string = fault.findtext("faultstring") or ""
        detail_el = fault.find("detail")
        actor = fault.findtext("faultactor")
    detail = element_to_json(detail_el) if detail_el is not None else None
    return code.strip(), string.strip(), detail or None, actor


def read_envelope(status: int, content_type: str | None, body: bytes) -> etree._Element:
    """The SOAP Envelope of a provider reply, or :class:`UpstreamFormatError` (empty, HTML, not XML, unsafe)."""
    media = (content_type or "").split(";")[0].strip().lower()
    head = body.lstrip()[:256].lower()
    if not body.strip():
        raise UpstreamFormatError(
            f"provider answered HTTP {status} with an empty body",
            status=status,
            content_type=content_type,
        )
    if media in ("text/html", "application/xhtml+xml") or head.startswith((b"<!doctype html", b"<html")):
        match = _TITLE.search(body[:4096])
        title = match.group(1).decode("utf-8", "replace").strip() if match else ""
        raise UpstreamFormatError(
            f"provider answered HTTP {status} with an HTML page instead of SOAP"
            + (f" (title: {title!r})" if title else ""),
            status=status,
            content_type=content_type,
        )
    if media not in _XML_MEDIA_TYPES and not head.startswith(b"<"):
        snippet = body[:80].decode("utf-8", "replace")
        raise UpstreamFormatError(
            f"provider answered HTTP {status} with non-XML content "
            f"({content_type or 'no content type'}): "
            f"{snippet!r}",
            status=status,
            content_type=content_type,
        )
    try:
        root = parse_xml(body)
    except UnsafeXmlError as exc:
        raise UpstreamFormatError(
            f"provider response refused: {exc}", status=status, content_type=content_type
        ) from exc
    qname = etree.QName(root)
    if qname.localname != "Envelope" or qname.namespace not in SOAP_NAMESPACES:
        raise UpstreamFormatError(
            f"provider answered with XML root {root.tag!r}, not a SOAP Envelope",
            status=status,
            content_type=content_type,
        )
    return root


#: A Fault is looked at only when it is this small; a larger 500 reply counts as the provider's failure.
_FAULT_BYTES = 64 * 1024


def is_caller_fault(body: bytes | None) -> bool:
    """Whether ``body`` is a SOAP Fault blaming the caller (1.1 ``Client``/``Client.*``, 1.2 ``Sender``).

    SOAP 1.1 answers every Fault with HTTP 500, the caller's mistakes too, so a 500 alone does not say that
    the provider is failing (:meth:`lgsp.gateway.upstream.Upstream.settle`).
    """
    if not body or len(body) > _FAULT_BYTES:
        return False
    try:
        root = parse_xml(body, max_bytes=_FAULT_BYTES)
    except UnsafeXmlError:
        return False
    soap_ns = etree.QName(root).namespace
    if soap_ns not in SOAP_NAMESPACES or etree.QName(root).localname != "Envelope":
        return False
    fault = root.find(f"{{{soap_ns}}}Body/{{{soap_ns}}}Fault")
    if fault is None:
        return False
    code = fault_parts(fault, str(soap_ns))[0].split("/")[0].rsplit(":", 1)[-1]  # "soap:Client.Auth" -> "Client.Auth"
    return code.split(".")[0] == ("Sender" if soap_ns == SOAP12_NS else "Client")
