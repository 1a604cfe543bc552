"""SOAP envelope constants and fault extraction shared by response parsing and pass-through."""

from __future__ import annotations

from typing import Any

from lxml import etree

SOAP11_NS = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_NS = "http://www.w3.org/2003/05/soap-envelope"
SOAP_NAMESPACES = (SOAP11_NS, SOAP12_NS)

__all__ = ["SOAP11_NS", "SOAP12_NS", "SOAP_NAMESPACES", "element_to_json", "fault_parts"]


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
