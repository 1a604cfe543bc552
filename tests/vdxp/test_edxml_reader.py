# ruff: noqa: E501  (the WILD fixture keeps real-world packet lines intact)
"""The tolerant reader: every tolerated deviation is reported, every hard error has a clear code."""

from __future__ import annotations

import base64
import io
import zipfile

import pytest
from vdxp_factories import sample_document, sample_status

from adapters.vdxp.edxml import (
    BusinessDocType,
    DocumentPacket,
    EdxmlError,
    SignatureInfo,
    StatusCode,
    StatusPacket,
    read_document,
    read_packet,
    read_status,
    write_document,
    write_status,
)

PDF = base64.b64encode(b"%PDF-1.4 wild").decode()
ZIP_BYTES = io.BytesIO()
with zipfile.ZipFile(ZIP_BYTES, "w") as _zip:
    _zip.writestr("a.txt", "xin chào")
ZIP = base64.b64encode(ZIP_BYTES.getvalue()).decode()

# A packet as other vendors write it: edXML: prefixes, DocumentId last, ToPlaces before OtherInfo, an
# unqualified child (xmlns=""), a Signature in the edXML namespace, the Attachment side without cid:.
WILD = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML:edXML xmlns:edXML="http://www.mic.gov.vn/TBT/QCVN_102_2016" xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">
 <edXML:edXMLEnvelope>
  <edXML:edXMLHeader>
   <edXML:MessageHeader>
    <edXML:From><edXML:OrganId>000.00.00.G22</edXML:OrganId><edXML:OrganName>Văn phòng Chính phủ</edXML:OrganName></edXML:From>
    <edXML:To><edXML:OrganId>000.00.12.H10</edXML:OrganId></edXML:To>
    <edXML:To><edXML:OrganId>000.00.02.H10</edXML:OrganId></edXML:To>
    <edXML:Code><edXML:CodeNumber>7816</edXML:CodeNumber><edXML:CodeNotation>VPCP-TTĐT</edXML:CodeNotation></edXML:Code>
    <edXML:PromulgationInfo><edXML:Place>Hà Nội</edXML:Place><edXML:PromulgationDate>2015/09/30</edXML:PromulgationDate></edXML:PromulgationInfo>
    <edXML:DocumentType><edXML:Type>18</edXML:Type><edXML:TypeDetail>0</edXML:TypeDetail><edXML:TypeName>Công văn</edXML:TypeName></edXML:DocumentType>
    <edXML:Subject>V/v thử nghiệm</edXML:Subject>
    <edXML:Content/>
    <edXML:SignerInfo><edXML:Competence>TL. BỘ TRƯỞNG</edXML:Competence><edXML:FullName>Lê A</edXML:FullName></edXML:SignerInfo>
    <edXML:DueDate>2015-10-15</edXML:DueDate>
    <edXML:ToPlaces><edXML:Place>Như trên</edXML:Place></edXML:ToPlaces>
    <edXML:OtherInfo><edXML:Priority>0</edXML:Priority><Direction xmlns="">false</Direction></edXML:OtherInfo>
    <edXML:ResponseFor/>
    <edXML:SteeringType>1</edXML:SteeringType>
    <edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>
   </edXML:MessageHeader>
   <edXML:TraceHeaderList>
    <edXML:TraceHeader><edXML:OrganId>000.00.00.G22</edXML:OrganId><edXML:Timestamp>2015/09/30 10:00:00</edXML:Timestamp></edXML:TraceHeader>
    <edXML:Bussiness><edXML:BussinessDocType>0</edXML:BussinessDocType><edXML:Paper>0</edXML:Paper></edXML:Bussiness>
   </edXML:TraceHeaderList>
   <Signature><SignedInfo><SignatureMethod Algorithm="http://www.w3.org/2000/09/xmldsig#rsa-sha1"/></SignedInfo>
     <SignatureValue>AAAA</SignatureValue><KeyInfo><X509Data><X509SubjectName>CN=Test, O=Ban Co yeu Chinh phu, C=VN</X509SubjectName></X509Data></KeyInfo></Signature>
  </edXML:edXMLHeader>
  <edXML:edXMLBody>
   <edXML:edXMLManifest version="1.0">
    <edXML:Reference xmlns:xlink="http://www.w3.org/1999/xlink">
     <edXML:ContentId>cid:5b1f</edXML:ContentId><edXML:ContentType>application/pdf</edXML:ContentType>
     <edXML:AttachmentName>cv.pdf</edXML:AttachmentName>
    </edXML:Reference>
    <edXML:Reference><edXML:ContentId>CID:9z</edXML:ContentId><edXML:ContentType>application/zip</edXML:ContentType>
     <edXML:AttachmentName>ho-so.zip</edXML:AttachmentName></edXML:Reference>
   </edXML:edXMLManifest>
  </edXML:edXMLBody>
 </edXML:edXMLEnvelope>
 <AttachmentEncoded>
  <Attachment><ContentId>5b1f</ContentId><AttachmentName>cv.pdf</AttachmentName><ContentType>application/pdf</ContentType>
   <ContentTransferEncoded>{PDF}</ContentTransferEncoded></Attachment>
  <Attachment><ContentId>cid:9z</ContentId><AttachmentName>ho-so.zip</AttachmentName><ContentType>application/zip</ContentType>
   <ContentTransferEncoded>{ZIP}</ContentTransferEncoded></Attachment>
 </AttachmentEncoded>
</edXML:edXML>"""


def test_wild_packet_is_read_with_every_deviation_listed() -> None:
    result = read_document(WILD.encode())
    packet = result.packet
    assert packet.header.document_id == "000.00.00.G22,2015/09/30,7816/VPCP-TTĐT"
    assert [t.organ_id for t in packet.header.to] == ["000.00.12.H10", "000.00.02.H10"]
    assert packet.header.due_date is not None and packet.header.due_date.isoformat() == "2015-10-15"
    assert packet.header.steering_type == 1
    assert packet.trace.business.doc_type == BusinessDocType.NEW
    assert packet.signature is not None and packet.signature.present and not packet.signature.in_xmldsig_namespace
    assert packet.signature.x509_subject_name.startswith("CN=Test")
    assert packet.signature.signature_method.endswith("rsa-sha1")
    assert [a.content_id for a in packet.attachments] == ["cid:5b1f", "cid:9z"]
    assert packet.attachments[0].content == b"%PDF-1.4 wild"
    assert packet.attachments[1].unzip() == {"a.txt": "xin chào".encode()}
    by_code = {d.code: d for d in result.deviations}
    # element order is not a deviation (PROTOCOLS.md §1.3); the schema flags the ISO date and the
    # element in no namespace, both real departures
    assert set(by_code) == {
        "unqualified-element",
        "date-format",
        "signature-namespace",
        "cid-prefix",
        "schema",
    }
    assert by_code["unqualified-element"].path.endswith("/OtherInfo/Direction")
    assert by_code["date-format"].path == "MessageHeader/DueDate"
    cid_paths = {d.path for d in result.deviations if d.code == "cid-prefix"}
    assert cid_paths == {"edXMLManifest/Reference[1]/ContentId", "AttachmentEncoded/Attachment[0]/ContentId"}


def test_wild_packet_rewritten_is_canonical() -> None:
    packet = read_document(WILD.encode()).packet
    packet.signature = None  # the writer only embeds XML-DSig signatures
    again = read_document(write_document(packet))
    assert again.deviations == []
    assert again.packet.header == packet.header


def test_signature_in_xmldsig_namespace_is_not_a_deviation() -> None:
    data = WILD.replace("<Signature>", '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">').encode()
    result = read_document(data)
    assert result.packet.signature is not None and result.packet.signature.in_xmldsig_namespace
    assert "signature-namespace" not in result.codes


def test_empty_digital_signature_is_flagged() -> None:
    start, end = WILD.index("<Signature>"), WILD.index("</Signature>") + len("</Signature>")
    data = (WILD[:start] + "<edXML:DigitalSignature/>" + WILD[end:]).encode()
    result = read_document(data)
    assert result.packet.signature is not None and result.packet.signature.empty_digital_signature
    assert "empty-digital-signature" in result.codes


def test_business_spelled_correctly_is_tolerated() -> None:
    data = WILD.replace("edXML:Bussiness>", "edXML:Business>").encode()
    assert "business-spelling" in read_document(data).codes


def test_read_packet_dispatches_on_kind() -> None:
    status = read_packet(write_status(sample_status(StatusCode.ACCEPTED))).packet
    assert isinstance(status, StatusPacket) and status.status_code == StatusCode.ACCEPTED
    document = read_packet(WILD.encode()).packet
    assert isinstance(document, DocumentPacket) and document.header.code.code_number == "7816"


def test_single_digit_status_code_is_padded() -> None:
    data = write_status(sample_status(StatusCode.PROCESSING)).replace(b">05<", b">5<")
    result = read_status(data)
    assert result.packet.status_code == StatusCode.PROCESSING and "status-code-format" in result.codes


# ------------------------------------------------------------------------------------------ hard errors


def _code(data: bytes, reader=read_document) -> str:
    with pytest.raises(EdxmlError) as info:
        reader(data)
    assert info.value.message
    return info.value.code


def test_malformed_xml() -> None:
    assert _code(b"<edXML xmlns='http://www.mic.gov.vn/TBT/QCVN_102_2016'><edXMLEnvelope>") == "malformed-xml"
    assert _code(b"") == "malformed-xml"


def test_garbage_before_xml_declaration() -> None:
    assert _code(b"\x00\x01\xfe\xff" + WILD.encode()) == "garbage-before-xml"


def test_utf8_bom_is_fine() -> None:
    assert read_document(b"\xef\xbb\xbf" + WILD.encode()).packet.header.subject == "V/v thử nghiệm"


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE edXML [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope>&xxe;</edXMLEnvelope></edXML>"""
BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016">&lol3;</edXML>"""


@pytest.mark.parametrize("data", [XXE, BOMB], ids=["xxe", "entity-bomb"])
def test_dtd_and_entities_are_refused(data: bytes) -> None:
    assert _code(data) == "dtd-forbidden"


def test_wrong_namespace() -> None:
    data = WILD.replace("http://www.mic.gov.vn/TBT/QCVN_102_2016", "http://www.go.vn/eDoc").encode()
    assert _code(data) == "wrong-namespace"
    no_ns = b"<edXML><edXMLEnvelope/></edXML>"
    assert _code(no_ns) == "wrong-namespace"


def test_too_large() -> None:
    with pytest.raises(EdxmlError) as info:
        read_document(WILD.encode(), max_bytes=1000)
    assert info.value.code == "too-large"


@pytest.mark.parametrize(
    ("old", "new", "path"),
    [
        ("<edXML:Subject>V/v thử nghiệm</edXML:Subject>", "", "MessageHeader/Subject"),
        ("<edXML:Subject>V/v thử nghiệm</edXML:Subject>", "<edXML:Subject> </edXML:Subject>", "MessageHeader/Subject"),
        (
            "<edXML:DocumentId>000.00.00.G22,2015/09/30,7816/VPCP-TTĐT</edXML:DocumentId>",
            "",
            "MessageHeader/DocumentId",
        ),
        ("<edXML:CodeNumber>7816</edXML:CodeNumber>", "", "MessageHeader/Code/CodeNumber"),
        (
            "<edXML:OrganId>000.00.00.G22</edXML:OrganId><edXML:OrganName>",
            "<edXML:OrganName>",
            "MessageHeader/From/OrganId",
        ),
        (
            "<edXML:PromulgationDate>2015/09/30</edXML:PromulgationDate>",
            "",
            "MessageHeader/PromulgationInfo/PromulgationDate",
        ),
    ],
)
def test_missing_required_fields(old: str, new: str, path: str) -> None:
    assert old in WILD
    with pytest.raises(EdxmlError) as info:
        read_document(WILD.replace(old, new, 1).encode())
    assert (info.value.code, info.value.path) == ("missing-field", path)


def test_missing_recipients() -> None:
    data = WILD.replace("<edXML:To><edXML:OrganId>000.00.12.H10</edXML:OrganId></edXML:To>", "").replace(
        "<edXML:To><edXML:OrganId>000.00.02.H10</edXML:OrganId></edXML:To>", ""
    )
    with pytest.raises(EdxmlError) as info:
        read_document(data.encode())
    assert info.value.path == "MessageHeader/To"


def test_bad_promulgation_date() -> None:
    assert (
        _code(WILD.replace(">2015/09/30</edXML:PromulgationDate>", ">30 tháng 9</edXML:PromulgationDate>").encode())
        == "bad-date"
    )


def test_cid_mismatch() -> None:
    assert (
        _code(WILD.replace("<ContentId>5b1f</ContentId>", "<ContentId>cid:other</ContentId>").encode())
        == "cid-mismatch"
    )


def test_attachment_missing_from_manifest() -> None:
    start = WILD.index("<edXML:Reference><edXML:ContentId>CID:9z")
    end = WILD.index("</edXML:Reference>", start) + len("</edXML:Reference>")
    assert _code((WILD[:start] + WILD[end:]).encode()) == "cid-mismatch"


def test_zipped_attachment_that_is_not_a_zip() -> None:
    assert _code(WILD.replace(ZIP, PDF).encode()) == "bad-zip"


def test_attachment_not_base64() -> None:
    assert _code(WILD.replace(PDF, "@@not base64@@").encode()) == "bad-base64"


def test_revoke_without_target_document() -> None:
    """No ResponseFor/DocumentId and no Bussiness/DocumentId: the only incomplete revocation."""
    data = WILD.replace("<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>1<").encode()
    with pytest.raises(EdxmlError) as info:
        read_document(data)
    assert info.value.code == "missing-target"
    assert info.value.path == "MessageHeader/ResponseFor/DocumentId"


def test_unknown_business_type() -> None:
    assert (
        _code(WILD.replace("<edXML:BussinessDocType>0<", "<edXML:BussinessDocType>7<").encode()) == "bad-business-type"
    )


def test_status_packet_errors() -> None:
    good = write_status(sample_status())
    assert _code(good.replace(b">01<", b">09<"), read_status) == "unknown-status-code"
    assert _code(good.replace(b">01<", b">xx<"), read_status) == "bad-status-code"
    assert _code(good.replace(b"<Timestamp>2026/11/21 09:15:00</Timestamp>", b""), read_status) == "missing-field"
    assert _code(write_document(sample_document()), read_status) == "wrong-kind"
    assert _code(good, read_document) == "wrong-kind"


def test_line_wrapped_base64_is_accepted() -> None:
    wrapped = "\n".join(ZIP[i : i + 76] for i in range(0, len(ZIP), 76))
    packet = read_document(WILD.replace(ZIP, wrapped).encode()).packet
    assert packet.attachments[1].unzip() == {"a.txt": "xin chào".encode()}


def test_doctype_hidden_behind_a_long_comment_is_still_refused() -> None:
    data = b"<?xml version='1.0'?><!--" + b"x" * 70_000 + b"-->" + XXE.split(b"?>", 1)[1]
    assert _code(data) == "dtd-forbidden"


def test_xmldsig_signature_survives_a_rewrite() -> None:
    data = WILD.replace("<Signature>", '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">').encode()
    packet = read_document(data).packet
    again = read_document(write_document(packet))
    assert again.deviations == []
    assert again.packet.signature is not None and again.packet.signature.in_xmldsig_namespace
    assert again.packet.signature.x509_subject_name == "CN=Test, O=Ban Co yeu Chinh phu, C=VN"


def test_signature_verifier_hook_gets_the_packet_bytes() -> None:
    data = WILD.replace("<Signature>", '<Signature xmlns="http://www.w3.org/2000/09/xmldsig#">').encode()
    seen: list[tuple[bytes, str]] = []

    def verifier(packet: bytes, info: SignatureInfo) -> str:
        seen.append((packet, info.signature_method))
        return "TOTAL_PASSED"

    assert read_document(data, verify_signature=verifier).signature_report == "TOTAL_PASSED"
    assert seen == [(data, "http://www.w3.org/2000/09/xmldsig#rsa-sha1")]
    unsigned = write_document(sample_document())
    assert read_document(unsigned, verify_signature=verifier).signature_report is None and len(seen) == 1


def test_doctype_text_in_a_cdata_section_is_not_a_dtd() -> None:
    data = WILD.replace(
        "<edXML:Content/>", "<edXML:Content><![CDATA[ví dụ <!DOCTYPE html> trong nội dung]]></edXML:Content>"
    )
    assert "<!DOCTYPE html>" in read_document(data.encode()).packet.header.content


def test_utf16_packet_is_read_with_a_deviation() -> None:
    data = WILD.replace('encoding="UTF-8"', 'encoding="UTF-16"').encode("utf-16")
    result = read_document(data)
    assert result.packet.header.subject == "V/v thử nghiệm" and "encoding" in result.codes
