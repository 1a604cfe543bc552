"""SOAP pass-through: X-Road headers added/replaced, the rest of the envelope forwarded as it came."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from lgsp.mediation import MediationInputError, XRoadClient, XRoadHeaders, XRoadService, apply_xroad_headers

SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
XRD = "http://x-road.eu/xsd/xroad.xsd"
BODY = (
    '<s:Body><n:TraCuuDoanhNghiep xmlns:n="urn:lgsp:ngsp:v1">'
    "<n:MaSoThue>1800000018</n:MaSoThue></n:TraCuuDoanhNghiep></s:Body>"
)
HEADERS = XRoadHeaders(
    XRoadClient.parse("VN/GOV/000.00.12.H10/MOTCUA"),
    XRoadService.parse("VN/GOV/000.00.00.G01/NGSP/TraCuuDoanhNghiep/v1"),
    id="lgsp-msg-7",
    user_id="canbo-02",
)


def _body_c14n(envelope: bytes) -> bytes:
    return etree.tostring(etree.fromstring(envelope).find(f"{{{SOAP}}}Body"), method="c14n")


def test_headers_added_when_the_envelope_has_none() -> None:
    original = f'<s:Envelope xmlns:s="{SOAP}">{BODY}</s:Envelope>'.encode()
    out = apply_xroad_headers(original, HEADERS)
    header = etree.fromstring(out).find(f"{{{SOAP}}}Header")
    assert header.findtext(f"{{{XRD}}}id") == "lgsp-msg-7"
    assert header.findtext(f"{{{XRD}}}protocolVersion") == "4.0"
    assert _body_c14n(out) == _body_c14n(original)


def test_caller_supplied_identity_is_replaced_other_headers_kept() -> None:
    original = (
        f'<s:Envelope xmlns:s="{SOAP}"><s:Header>'
        f'<xrd:client xmlns:xrd="{XRD}" xmlns:id="http://x-road.eu/xsd/identifiers" id:objectType="SUBSYSTEM">'
        "<id:xRoadInstance>VN</id:xRoadInstance><id:memberClass>GOV</id:memberClass>"
        "<id:memberCode>SPOOFED</id:memberCode></xrd:client>"
        f'<xrd:id xmlns:xrd="{XRD}">client-chosen</xrd:id>'
        '<w:Security xmlns:w="urn:wsse">token</w:Security>'
        f"</s:Header>{BODY}</s:Envelope>"
    ).encode()
    out = apply_xroad_headers(original, HEADERS)
    header = etree.fromstring(out).find(f"{{{SOAP}}}Header")
    clients = header.findall(f"{{{XRD}}}client")
    assert len(clients) == 1 and "SPOOFED" not in etree.tostring(clients[0]).decode()
    assert [e.text for e in header.findall(f"{{{XRD}}}id")] == ["lgsp-msg-7"]
    assert header.findtext("{urn:wsse}Security") == "token"
    assert _body_c14n(out) == _body_c14n(original)


@pytest.mark.parametrize(
    "data",
    [b"<notsoap/>", b"{}", b'<!DOCTYPE x [<!ENTITY e "x">]><s:Envelope xmlns:s="' + SOAP.encode() + b'"/>'],
)
def test_non_soap_input_is_refused(data: bytes) -> None:
    with pytest.raises(MediationInputError) as info:
        apply_xroad_headers(data, HEADERS)
    assert info.value.field == "Envelope"


def test_identifier_parsing_errors() -> None:
    with pytest.raises(ValueError, match="client identifier"):
        XRoadClient.parse("VN/GOV")
    with pytest.raises(ValueError, match="service identifier"):
        XRoadService.parse("VN/GOV/X//Y")
    assert str(XRoadClient.parse("VN/GOV/000.00.12.H10")) == "VN/GOV/000.00.12.H10"


@pytest.mark.parametrize(("soap12", "status", "code"), [(False, 422, "soap:Client"), (True, 502, "soap:Receiver")])
def test_soap_fault_for_soap_callers_carries_the_problem_kind(soap12: bool, status: int, code: str) -> None:
    from lgsp.mediation import soap_fault
    from lgsp.mediation.soapenv import SOAP11_NS, SOAP12_NS, fault_parts

    data = soap_fault("mediation-input-invalid", status, "SoDinhDanh: must be 12 digits", soap12=soap12)
    ns = SOAP12_NS if soap12 else SOAP11_NS
    fault = etree.fromstring(data).find(f"{{{ns}}}Body/{{{ns}}}Fault")
    got_code, string, detail, _ = fault_parts(fault, ns)
    assert (got_code, string) == (code, "SoDinhDanh: must be 12 digits")
    assert detail == {"problem": {"type": "https://lgsp.dev/problems/mediation-input-invalid", "status": str(status)}}


# ---- the envelope's shape, and whose identity reaches the provider -------------------------------------

_PARTS = {
    "header": "<s:Header>{xrd}</s:Header>",
    "body": f"<s:Body>{BODY[len('<s:Body>'):-len('</s:Body>')]}</s:Body>",
    "empty-body": "<s:Body/>",
    "other": "<x:Other xmlns:x='urn:x'/>",
}
_XRD = [f'<xrd:{tag} xmlns:xrd="{XRD}">caller-{tag}</xrd:{tag}>'
        for tag in ("client", "service", "id", "userId", "protocolVersion", "requestHash", "issue")]


@settings(derandomize=True, max_examples=60, deadline=None, database=None)
@given(st.lists(st.sampled_from(sorted(_PARTS)), max_size=4), st.lists(st.sampled_from(_XRD), max_size=5))
def test_any_envelope_shape_is_refused_or_carries_only_lgsps_identity(parts: list[str], xrd: list[str]) -> None:
    """One Header at most, before one Body holding one element; then no caller-written identity block."""
    inner = "".join(_PARTS[p].format(xrd="".join(xrd)) for p in parts)
    data = f'<s:Envelope xmlns:s="{SOAP}">{inner}</s:Envelope>'
    try:
        out = apply_xroad_headers(data.encode(), XRoadHeaders(HEADERS.client, HEADERS.service, id="lgsp-id"))
    except MediationInputError as exc:
        assert exc.field == "Envelope"
        assert parts not in (["body"], ["header", "body"])
        return
    assert parts in (["body"], ["header", "body"])
    header = etree.fromstring(out).find(f"{{{SOAP}}}Header")
    texts = [el.text for el in header if str(el.tag).startswith(f"{{{XRD}}}")]
    assert [t for t in texts if t and t.startswith("caller-")] == (["caller-issue"] * xrd.count(_XRD[-1]))
    assert header.findall(f"{{{XRD}}}userId") == []


@settings(derandomize=True, max_examples=200, deadline=None, database=None)
@given(st.text(max_size=30), st.booleans())
def test_a_fault_holds_any_detail_text(detail: str, soap12: bool) -> None:
    """A detail with a control character or a lone surrogate made soap_fault raise ValueError (lxml),
    and the Fault is the error answer itself: a SOAP caller got a 500 instead."""
    from lgsp.mediation import soap_fault
    from lgsp.mediation.soapenv import SOAP11_NS, SOAP12_NS, fault_parts

    ns = SOAP12_NS if soap12 else SOAP11_NS
    fault = etree.fromstring(soap_fault("bad-request", 400, detail, soap12=soap12)).find(f"{{{ns}}}Body/{{{ns}}}Fault")
    _, string, _, _ = fault_parts(fault, ns)
    xml_safe = all(c in "\t\n\r" or " " <= c <= "\ud7ff" or "\ue000" <= c <= "\ufffd" or c >= "\U00010000"
                   for c in detail)
    if xml_safe:
        assert string == detail.strip()
    else:
        assert "\ufffd" in string
