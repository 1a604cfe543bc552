"""SOAP Faults carrying lgsp's problem kinds, for SOAP callers (pass-through) that cannot read JSON.

DESIGN §3: a REST caller gets ``application/problem+json``; a SOAP caller gets a Fault with the same kind.
The kind travels as the problem ``type`` URI inside ``detail`` so SOAP clients can branch on it too.
"""

from __future__ import annotations

from lxml import etree

from lgsp.safexml import NOT_XML_CHAR

from .soapenv import SOAP11_NS, SOAP12_NS

__all__ = ["LGSP_FAULT_NS", "PROBLEM_BASE", "soap_fault"]

LGSP_FAULT_NS = "urn:lgsp:fault:v1"
PROBLEM_BASE = "https://lgsp.dev/problems/"


def soap_fault(kind: str, status: int, detail: str, *, soap12: bool = False) -> bytes:
    """A Fault envelope: code Client/Sender for 4xx problems, Server/Receiver otherwise."""
    caller_error = 400 <= status < 500
    # lxml refuses what XML 1.0 cannot hold (ValueError), and the Fault is what answers an error, so a detail
    # quoting such a character (from a caller or a provider) would have turned the answer into a 500
    detail = NOT_XML_CHAR.sub("\ufffd", detail)
    ns = SOAP12_NS if soap12 else SOAP11_NS
    env = etree.Element(f"{{{ns}}}Envelope", nsmap={"soap": ns})
    fault = etree.SubElement(etree.SubElement(env, f"{{{ns}}}Body"), f"{{{ns}}}Fault")
    if soap12:
        code = etree.SubElement(fault, f"{{{ns}}}Code")
        etree.SubElement(code, f"{{{ns}}}Value").text = "soap:Sender" if caller_error else "soap:Receiver"
        reason = etree.SubElement(fault, f"{{{ns}}}Reason")
        text = etree.SubElement(reason, f"{{{ns}}}Text")
        text.text = detail
        text.set("{http://www.w3.org/XML/1998/namespace}lang", "en")
        holder = etree.SubElement(fault, f"{{{ns}}}Detail")
    else:
        etree.SubElement(fault, "faultcode").text = "soap:Client" if caller_error else "soap:Server"
        etree.SubElement(fault, "faultstring").text = detail
        holder = etree.SubElement(fault, "detail")
    problem = etree.SubElement(holder, f"{{{LGSP_FAULT_NS}}}problem", nsmap={"lgsp": LGSP_FAULT_NS})
    etree.SubElement(problem, f"{{{LGSP_FAULT_NS}}}type").text = PROBLEM_BASE + kind
    etree.SubElement(problem, f"{{{LGSP_FAULT_NS}}}status").text = str(status)
    return bytes(etree.tostring(env, xml_declaration=True, encoding="utf-8"))
