"""The strict writer: canonical output, schema validity (incl. generated packets), refusals, round trips."""

from __future__ import annotations

import random

import pytest
from lxml import etree
from vdxp_factories import RECIPIENT, SENDER, random_document, random_status, sample_document, sample_status

from adapters.vdxp.edxml import (
    NAMESPACE,
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    EdxmlError,
    ManifestReference,
    ReplacementInfo,
    StatusCode,
    document_id,
    hash_file,
    read_document,
    read_status,
    schema_errors,
    write_document,
    write_status,
)

NS = {"e": NAMESPACE}


def test_canonical_skeleton_and_formats() -> None:
    root = etree.fromstring(write_document(sample_document()))
    assert root.tag == f"{{{NAMESPACE}}}edXML" and root.nsmap == {None: NAMESPACE}
    assert [etree.QName(c).localname for c in root] == ["edXMLEnvelope", "AttachmentEncoded"]
    header = root.find("e:edXMLEnvelope/e:edXMLHeader", NS)
    assert [etree.QName(c).localname for c in header] == ["MessageHeader", "TraceHeaderList"]
    assert (
        root.findtext(
            "e:edXMLEnvelope/e:edXMLHeader/e:MessageHeader/e:PromulgationInfo/e:PromulgationDate", namespaces=NS
        )
        == "2026/11/20"
    )
    assert root.findtext(".//e:TraceHeader/e:Timestamp", namespaces=NS) == "2026/11/20 08:30:00"
    assert root.find(".//e:edXMLManifest", NS).get("version") == "1.0"
    ref_cid = root.findtext(".//e:edXMLManifest/e:Reference/e:ContentId", namespaces=NS)
    att_cid = root.findtext("e:AttachmentEncoded/e:Attachment/e:ContentId", namespaces=NS)
    assert ref_cid == att_cid and ref_cid.startswith("cid:")


@pytest.mark.parametrize("seed", range(150))
def test_generated_packets_validate_and_round_trip(seed: int) -> None:
    rng = random.Random(seed)
    packet = random_document(rng)
    data = write_document(packet)
    assert schema_errors(etree.fromstring(data), "edoc") == []
    result = read_document(data)
    assert result.deviations == []
    assert result.packet.header == packet.header
    assert [a.content for a in result.packet.attachments] == [a.content for a in packet.attachments]
    assert write_document(result.packet) == data

    status = random_status(rng)
    status_bytes = write_status(status)
    assert schema_errors(etree.fromstring(status_bytes), "status") == []
    status_result = read_status(status_bytes)
    assert status_result.deviations == [] and status_result.packet == status
    assert write_status(status_result.packet) == status_bytes


@pytest.mark.parametrize("doc_type", list(BusinessDocType))
def test_business_kinds_round_trip(doc_type: BusinessDocType) -> None:
    business = Business(doc_type, "Lý do", "" if doc_type == BusinessDocType.NEW else "000.00.12.H10,2026/11/01,1/X")
    if doc_type == BusinessDocType.UPDATE:
        business.document_info = BusinessDocumentInfo("1", "0", [])
    if doc_type == BusinessDocType.REPLACE:
        business.replacements = [ReplacementInfo("old-doc", [RECIPIENT])]
    packet = sample_document(business=business)
    back = read_document(write_document(packet)).packet
    assert back.trace.business == business


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda p: setattr(p.header.from_, "organ_id", "CANTHO"), "MessageHeader/From/OrganId"),
        (lambda p: setattr(p.header, "to", []), "MessageHeader/To"),
        (lambda p: setattr(p.header, "subject", "  "), "MessageHeader/Subject"),
        (lambda p: setattr(p.header, "document_id", ""), "MessageHeader/DocumentId"),
        (lambda p: setattr(p.header.code, "code_notation", ""), "MessageHeader/Code/CodeNotation"),
        (
            lambda p: setattr(p.trace, "business", Business(BusinessDocType.REVOKE)),
            "MessageHeader/ResponseFor/DocumentId",
        ),
        (
            lambda p: setattr(p.trace, "business", Business(BusinessDocType.UPDATE, document_id="x")),
            "TraceHeaderList/Bussiness/BussinessDocumentInfo",
        ),
        (
            lambda p: setattr(p.trace, "business", Business(BusinessDocType.REPLACE, document_id="x")),
            "TraceHeaderList/Bussiness/ReplacementInfoList",
        ),
    ],
)
def test_writer_refuses_invalid_models(mutate, path: str) -> None:
    packet = sample_document()
    mutate(packet)
    with pytest.raises(EdxmlError) as info:
        write_document(packet)
    assert info.value.code == "invalid-model" and info.value.path == path


def test_writer_refuses_manifest_attachment_mismatch() -> None:
    packet = sample_document()
    packet.manifest = [ManifestReference("cid:someone-else", "application/pdf", "", "x.pdf")]
    with pytest.raises(EdxmlError) as info:
        write_document(packet)
    assert info.value.code == "cid-mismatch"


def test_writer_refuses_zip_content_type_on_non_zip() -> None:
    packet = sample_document(attachments=[Attachment("cid:a", "x.zip", b"not a zip", "application/zip")])
    with pytest.raises(EdxmlError) as info:
        write_document(packet)
    assert info.value.code == "bad-zip"


def test_zipped_attachment_round_trip() -> None:
    files = {"a.pdf": b"%PDF a", "phu-luc/b.docx": b"docx bytes" * 100}
    packet = sample_document(attachments=[Attachment.zipped("hoso.zip", files)])
    back = read_document(write_document(packet)).packet
    assert back.attachments[0].is_zipped and back.attachments[0].unzip() == files


def test_unzip_refuses_archives_expanding_past_the_limit() -> None:
    attachment = Attachment.zipped("bomb.zip", {"zeros.bin": bytes(1_000_000)})
    assert len(attachment.content) < 10_000
    with pytest.raises(EdxmlError) as info:
        attachment.unzip(max_bytes=100_000)
    assert info.value.code == "zip-too-large"


def test_status_writer_refuses_bad_agency() -> None:
    status = sample_status()
    status.response_for.organ_id = "nope"
    with pytest.raises(EdxmlError) as info:
        write_status(status)
    assert info.value.path == "MessageHeader/ResponseFor/OrganId"


def test_status_codes_are_written_two_digit() -> None:
    root = etree.fromstring(write_status(sample_status(StatusCode.CHANGE_REJECTED)))
    assert root.findtext(".//e:StatusCode", namespaces=NS) == "16"
    assert root.find(".//e:TraceHeaderList", NS) is None and root.find(".//e:edXMLBody", NS) is None


def test_helpers() -> None:
    from datetime import date

    assert document_id(SENDER, date(2015, 9, 30), "7816", "VPCP-TTĐT") == "000.00.12.H10,2015/09/30,7816/VPCP-TTĐT"
    with pytest.raises(ValueError):
        document_id("", date(2015, 9, 30), "1", "X")
    assert hash_file(b"abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_writer_refuses_text_that_xml_cannot_carry() -> None:
    packet = sample_document()
    packet.header.subject = "trích yếu\x00"
    with pytest.raises(EdxmlError) as info:
        write_document(packet)
    assert info.value.code == "invalid-model" and info.value.path == "Subject"
