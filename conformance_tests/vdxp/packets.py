"""edXML packets for the conformance suite, from string templates (independent of lgsp's writer)."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from xml.sax.saxutils import escape

NS = "http://www.mic.gov.vn/TBT/QCVN_102_2016"

#: Status codes of PROTOCOLS.md §1.6 and the transitions lgsp expects (docs/protocols/edxml.md §4).
STATUS_CODES = ("01", "02", "03", "04", "05", "06", "13", "15", "16")
_WORK = {"04", "05", "06", "13"}
TRANSITIONS: dict[str | None, set[str]] = {
    None: {"01", "02", "03", "13"},
    "01": {"02", "03", "13"},
    "02": set(),
    "03": set(_WORK),
    "04": set(_WORK),
    "05": {"05", "06", "13"},
    "06": set(),
    "13": {"15", "16"},
    "15": set(),
    "16": {"01", "03"} | _WORK,
}


def _org(tag: str, code: str, name: str) -> str:
    return f"<{tag}><OrganId>{code}</OrganId><OrganName>{escape(name)}</OrganName></{tag}>"


def edoc(sender: str, recipient: str, *, subject: str = "Kiểm thử liên thông (conformance)") -> tuple[bytes, str]:
    """A minimal canonical edoc with one attachment; returns (bytes, DocumentId)."""
    today = datetime.now().strftime("%Y/%m/%d")
    stamp = datetime.now().strftime("%Y/%m/%d %H:%M:%S")
    number = str(uuid.uuid4().int % 100000)
    document_id = f"{sender},{today},{number}/CONF"
    cid = f"cid:{uuid.uuid4()}"
    content = base64.b64encode(b"%PDF-1.4 conformance").decode()
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
{_org("From", sender, "Conformance sender")}{_org("To", recipient, "Conformance recipient")}
<DocumentId>{document_id}</DocumentId><Code><CodeNumber>{number}</CodeNumber><CodeNotation>CONF</CodeNotation></Code>
<PromulgationInfo><Place>Cần Thơ</Place><PromulgationDate>{today}</PromulgationDate></PromulgationInfo>
<DocumentType><Type>1</Type><TypeDetail>0</TypeDetail><TypeName>Công văn</TypeName></DocumentType>
<Subject>{escape(subject)}</Subject><Content>Gói tin kiểm thử.</Content>
</MessageHeader><TraceHeaderList><TraceHeader><OrganId>{sender}</OrganId><Timestamp>{stamp}</Timestamp></TraceHeader>
<Bussiness><BussinessDocType>0</BussinessDocType><Paper>0</Paper></Bussiness></TraceHeaderList></edXMLHeader>
<edXMLBody><edXMLManifest version="1.0"><Reference><ContentId>{cid}</ContentId>
<ContentType>application/pdf</ContentType><AttachmentName>test.pdf</AttachmentName></Reference></edXMLManifest></edXMLBody></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentId>{cid}</ContentId><AttachmentName>test.pdf</AttachmentName>
<ContentType>application/pdf</ContentType><ContentTransferEncoded>{content}</ContentTransferEncoded></Attachment>
</AttachmentEncoded></edXML>"""
    return xml.encode("utf-8"), document_id


def status(sender: str, original_sender: str, document_id: str, code: str, when: datetime | None = None) -> bytes:
    stamp = (when or datetime.now()).strftime("%Y/%m/%d %H:%M:%S")
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="{NS}"><edXMLEnvelope><edXMLHeader><MessageHeader>
{_org("From", sender, "Conformance recipient")}
<ResponseFor><OrganId>{original_sender}</OrganId><Code>CONF</Code><DocumentId>{escape(document_id)}</DocumentId></ResponseFor>
<StatusCode>{code}</StatusCode><Description>conformance {code}</Description><Timestamp>{stamp}</Timestamp>
</MessageHeader></edXMLHeader></edXMLEnvelope></edXML>"""
    return xml.encode("utf-8")
