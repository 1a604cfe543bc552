"""Packets shaped like the official SDK's samples and like what the national / VXP SaaS axes relay.

The fixtures in ``tests/fixtures/edxml`` are written by hand from PROTOCOLS.md §1 (corrected §1.1, §1.3,
§1.9), never produced by lgsp's writer or simulator, so they test our reading against the field, not
against our own assumptions.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from lxml import etree

from adapters.vdxp.edxml import BusinessDocType, EdxmlError, read_document, write_document
from adapters.vdxp.edxml.schema import schema_errors
from lgsp.safexml import parse_xml

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "edxml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# ------------------------------------------------------------------ 1. revocation and replacement


def test_sdk_revocation_names_its_target_in_response_for() -> None:
    result = read_document(fixture("sdk_revocation.edxml"))
    packet = result.packet
    assert packet.trace.business.doc_type == BusinessDocType.REVOKE
    assert packet.trace.business.document_id == ""
    assert packet.targets == ["000.00.12.H10,2026/11/26,4521/STTTT-VP"]
    assert result.deviations == []


def test_sdk_replacement_names_its_targets_in_replacement_info() -> None:
    result = read_document(fixture("sdk_replacement.edxml"))
    packet = result.packet
    assert packet.trace.business.doc_type == BusinessDocType.REPLACE
    assert packet.targets == ["000.00.12.H10,2026/11/26,4521/STTTT-VP"]
    assert packet.trace.business.replacements[0].organ_ids == ["000.00.00.G22"]
    assert result.deviations == []


def test_only_a_revocation_naming_no_target_is_incomplete() -> None:
    data = fixture("sdk_revocation.edxml").replace(
        b"<DocumentId>000.00.12.H10,2026/11/26,4521/STTTT-VP</DocumentId>", b"<DocumentId></DocumentId>"
    )
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "missing-target"
    assert info.value.path == "MessageHeader/ResponseFor/DocumentId"


def test_a_replacement_naming_no_target_is_incomplete() -> None:
    data = fixture("sdk_replacement.edxml").replace(
        b"<DocumentId>000.00.12.H10,2026/11/26,4521/STTTT-VP</DocumentId>", b""
    )
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "missing-target"
    assert info.value.path.endswith("ReplacementInfoList/ReplacementInfo/DocumentId")


def test_revocation_and_replacement_can_be_rewritten() -> None:
    for name in ("sdk_revocation.edxml", "sdk_replacement.edxml"):
        packet = read_document(fixture(name)).packet
        again = read_document(write_document(packet))
        assert again.packet.targets == packet.targets
        assert again.deviations == []


# ------------------------------------------------------------------ 2. references


def test_empty_and_cid_hrefs_pair_with_their_attachment() -> None:
    for name in ("sdk_revocation.edxml", "sdk_replacement.edxml"):
        packet = read_document(fixture(name)).packet
        assert [r.is_external for r in packet.manifest] == [False]
        assert [r.content_id for r in packet.manifest] == [a.content_id for a in packet.attachments]


def test_external_reference_is_kept_and_reported_not_fetched() -> None:
    external = (
        b'<Reference xlink:href="https://vanban.chinhphu.vn/files/7816-phu-luc.pdf">'
        b"<ContentId>cid:phu-luc-7816</ContentId><ContentType>application/pdf</ContentType>"
        b"<AttachmentName>phu-luc.pdf</AttachmentName></Reference></edXMLManifest>"
    )
    data = fixture("axis_relayed.edxml").replace(b"</edXMLManifest>", external)
    result = read_document(data)
    refs = result.packet.manifest
    assert [r.is_external for r in refs] == [False, True]
    assert result.codes == {"external-reference"}
    assert write_document(result.packet).count(b"https://vanban.chinhphu.vn/files/7816-phu-luc.pdf") == 1


def test_cid_href_naming_another_attachment_is_refused() -> None:
    data = fixture("sdk_replacement.edxml").replace(
        b'xlink:href="cid:8b5e1f47-20aa-4f0e-b7a3-5c9d2e6f7b10"', b'xlink:href="cid:someone-else"'
    )
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "cid-mismatch"


def test_non_cid_href_on_the_only_reference_leaves_the_attachment_unlisted() -> None:
    data = fixture("sdk_revocation.edxml").replace(b'xlink:href=""', b'xlink:href="http://example.org/x.pdf"')
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "cid-mismatch"


# ------------------------------------------------------------------ 3. order-free validation


@pytest.mark.parametrize("name", ["axis_relayed.edxml", "sdk_revocation.edxml", "sdk_replacement.edxml"])
def test_real_orders_are_valid_and_raise_no_schema_warning(name: str) -> None:
    data = fixture(name)
    assert schema_errors(parse_xml(data), "edoc") == []
    assert "schema" not in read_document(data).codes


def test_schema_still_means_something() -> None:
    data = fixture("axis_relayed.edxml").replace(b"<PromulgationDate>2026/11/30<", b"<PromulgationDate>30-11-2026<")
    assert any("PromulgationDate" in e for e in schema_errors(parse_xml(data), "edoc"))
    unknown = fixture("axis_relayed.edxml").replace(b"<SteeringType>1</SteeringType>", b"<Steering>1</Steering>")
    assert "schema" in read_document(unknown).codes


def test_the_writer_keeps_one_canonical_order() -> None:
    packet = read_document(fixture("axis_relayed.edxml")).packet
    written = write_document(packet)
    header = parse_xml(written).find(".//{*}MessageHeader")
    assert header is not None
    names = [child.tag.rsplit("}", 1)[-1] for child in header]
    assert names.index("DocumentId") < names.index("Code") < names.index("OtherInfo") < names.index("ToPlaces")
    trace = parse_xml(written).find(".//{*}TraceHeaderList")
    assert trace is not None
    assert [c.tag.rsplit("}", 1)[-1] for c in trace][-1] == "Bussiness"


# ------------------------------------------------------------------ 4. identifiers


def test_real_identifier_forms_are_read_and_re_emitted() -> None:
    result = read_document(fixture("vxp_saas.edxml"))
    packet = result.packet
    assert packet.header.from_.organ_id == "vxp.saas.03"
    assert [t.organ_id for t in packet.header.to] == ["000.00.12.H10", "28.22.H17"]
    assert "organ-id-format" not in result.codes
    relayed = read_document(fixture("axis_relayed.edxml")).packet
    assert "001.00.20.TT2" in [t.organ_id for t in relayed.trace.trace_headers]
    # a relay must not refuse the trace entry the axis itself added
    assert b"<OrganId>001.00.20.TT2</OrganId>" in write_document(relayed)
    assert b"<OrganId>vxp.saas.03</OrganId>" in write_document(packet)


def test_accepted_identifier_forms_are_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LGSP_AGENCY_ID_PATTERNS", r"\d{3}\.\d{2}\.\d{2}\.[A-Z]\d{2}")
    result = read_document(fixture("vxp_saas.edxml"))
    assert "organ-id-format" in result.codes
    with pytest.raises(EdxmlError) as info:
        write_document(result.packet)
    assert info.value.path == "MessageHeader/From/OrganId"


# ------------------------------------------------------------------ 5. signature in the edXML namespace


def test_signature_in_edxml_namespace_is_reported_and_kept_when_rewritten() -> None:
    data = fixture("vxp_saas.edxml")
    result = read_document(data)
    signature = result.packet.signature
    assert signature is not None and signature.present and not signature.in_xmldsig_namespace
    assert "signature-namespace" in result.codes
    written = write_document(result.packet)
    again = read_document(written)
    assert again.packet.signature is not None
    assert again.packet.signature.xml is not None and signature.xml is not None

    def exc_c14n(xml: bytes) -> bytes:
        return etree.tostring(parse_xml(xml), method="c14n", exclusive=True)

    assert exc_c14n(again.packet.signature.xml) == exc_c14n(signature.xml)  # kept as received, not "repaired"
    assert b"<SignatureValue>U2lnbmF0dXJlIG9mIFVCTkQgeMOjIE3hu7kgWHV5w6pu</SignatureValue>" in written


# ------------------------------------------------------------------ 6. trace


def test_timestamp_only_trace_entries_are_kept_and_null_is_missing() -> None:
    relayed = read_document(fixture("axis_relayed.edxml"))
    hops = relayed.packet.trace.trace_headers
    assert len(hops) == 3 and hops[2].organ_id == "" and hops[2].timestamp is not None
    assert relayed.deviations == []
    rewritten = read_document(write_document(relayed.packet)).packet.trace
    assert rewritten.trace_headers == hops
    assert rewritten.attributes == {"id": "trace-1", "version": "1.0", "mustUnderstand": "1",
                                    "actor": "http://schemas.xmlsoap.org/soap/actor/next"}
    saas = read_document(fixture("vxp_saas.edxml"))
    assert [t.organ_id for t in saas.packet.trace.trace_headers] == ["vxp.saas.03", ""]
    missing = [d for d in saas.deviations if d.code == "missing-organ-id"]
    assert [d.path for d in missing] == ["TraceHeaderList/TraceHeader[1]/OrganId"]


def test_null_sender_is_a_missing_required_field() -> None:
    sender = b"<OrganId>vxp.saas.03</OrganId>\n          <OrganName>"
    data = fixture("vxp_saas.edxml").replace(sender, b"<OrganId>null</OrganId><OrganName>", 1)
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "missing-field"
    assert info.value.path == "MessageHeader/From/OrganId"


# ------------------------------------------------------------------ bad input stays refused


def test_truncated_base64_and_fake_zip_are_refused() -> None:
    data = fixture("axis_relayed.edxml")
    start = data.index(b"<ContentTransferEncoded>") + len(b"<ContentTransferEncoded>")
    end = data.index(b"</ContentTransferEncoded>")
    truncated = data[:start] + data[start:end][:-3] + data[end:]
    with pytest.raises(EdxmlError) as info:
        read_document(truncated)
    assert info.value.code == "bad-base64"
    fake = data.replace(b"<ContentType>application/pdf</ContentType>\n      <ContentTransferEncoded>",
                        b"<ContentType>application/zip</ContentType>\n      <ContentTransferEncoded>")
    tail = fake[fake.index(b"</ContentTransferEncoded>"):]
    fake = fake[:start] + base64.b64encode(b"PK\x03\x04 not really a zip") + tail
    with pytest.raises(EdxmlError) as info:
        read_document(fake)
    assert info.value.code == "bad-zip"


# ------------------------------------------------------------------ 7. large attachments


def test_a_50_mb_attachment_is_read_without_huge_tree_and_decoded_lazily() -> None:
    """libxml2 refuses a text node over 10 MB unless huge_tree lifts every limit; the reader keeps
    the base64 out of the parser instead, and decodes only when ``content`` is read."""
    data = fixture("axis_relayed.edxml")
    start = data.index(b"<ContentTransferEncoded>") + len(b"<ContentTransferEncoded>")
    end = data.index(b"</ContentTransferEncoded>")
    content = bytes(range(256)) * (50 * 1024 * 4)  # 50 MiB
    big = data[:start] + base64.b64encode(content) + data[end:]
    result = read_document(big, max_bytes=100 * 1024 * 1024)
    (attachment,) = result.packet.attachments
    assert result.deviations == []
    assert len(attachment.content) == len(content) and attachment.content[:512] == content[:512]


def test_marker_text_cannot_alias_another_payload() -> None:
    data = fixture("axis_relayed.edxml")
    # literal text that looks like a marker stays text (and is not base64: refused, not swapped)
    forged = data.replace(b"<Description>C\xc3\xb4ng v\xc4\x83n 7816</Description>\n      <ContentType>",
                          b"<Description>#lgsp-0000000000000000-0#</Description>\n      <ContentType>")
    assert read_document(forged).packet.attachments[0].description == "#lgsp-0000000000000000-0#"


def test_payload_look_alikes_in_cdata_and_comments_are_left_alone() -> None:
    data = fixture("axis_relayed.edxml")
    fake = b"<ContentTransferEncoded>" + b"QUJD" * 40 + b"</ContentTransferEncoded>"
    packet = data.replace(b"<Content>", b"<Content><![CDATA[" + fake + b"]]>", 1).replace(
        b"<Subject>", b"<!-- " + fake + b" --><Subject>", 1)
    result = read_document(packet)
    assert result.packet.header.content.startswith(fake.decode())  # the CDATA text as sent, no marker
    assert result.packet.attachments[0].content.startswith(b"%PDF-1.4")


def test_an_update_targets_its_bussiness_document_id() -> None:
    data = fixture("sdk_revocation.edxml").replace(b"<BussinessDocType>1<", b"<BussinessDocType>2<").replace(
        b"<Paper>0</Paper>", b"<DocumentId>000.00.12.H10,2026/11/20,4400/STTTT-VP</DocumentId><Paper>0</Paper>"
        b"<BussinessDocumentInfo><DocumentInfo>1</DocumentInfo><DocumentReceiver>0</DocumentReceiver>"
        b"</BussinessDocumentInfo>")
    packet = read_document(data).packet
    assert packet.trace.business.doc_type == BusinessDocType.UPDATE
    assert packet.targets == ["000.00.12.H10,2026/11/20,4400/STTTT-VP", "000.00.12.H10,2026/11/26,4521/STTTT-VP"]
