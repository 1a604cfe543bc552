"""Typed models of the two edXML packet kinds (PROTOCOLS.md §1.2–§1.6).

Plain dataclasses: the writer turns them into canonical XML, the reader fills them from tolerant
parsing. Field names follow the XML element names in snake_case so a reader of the spec finds them.
Dates are ``date``/``datetime`` (naive, Vietnamese local time, as the wire format has no zone).
"""

from __future__ import annotations

import base64
import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum

from .errors import EdxmlError
from .payloads import Payload
from .status_codes import StatusCode

ZIP_CONTENT_TYPES = frozenset({"application/zip", "application/x-zip-compressed"})
#: Upper bound when expanding a zipped attachment, so a zip bomb cannot exhaust memory.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024


class BusinessDocType(IntEnum):
    """``BussinessDocType``: what the packet does to the target document (§1.3)."""

    NEW = 0
    REVOKE = 1
    UPDATE = 2
    REPLACE = 3


@dataclass
class Organization:
    """``From`` / ``To`` block; ``organ_id`` is the electronic agency identifier."""

    organ_id: str
    organ_name: str = ""
    organization_in_charge: str = ""
    organ_add: str = ""
    email: str = ""
    telephone: str = ""
    fax: str = ""
    website: str = ""


@dataclass
class Code:
    """Số và ký hiệu văn bản (``CodeNumber`` + ``CodeNotation``)."""

    code_number: str
    code_notation: str

    def __str__(self) -> str:
        return f"{self.code_number}/{self.code_notation}"


@dataclass
class PromulgationInfo:
    promulgation_date: date
    place: str = ""


@dataclass
class DocumentType:
    type: int
    type_detail: int = 0
    type_name: str = ""


@dataclass
class SignerInfo:
    competence: str = ""
    position: str = ""
    full_name: str = ""


@dataclass
class OtherInfo:
    priority: int = 0
    sphere_of_promulgation: str = ""
    typer_notation: str = ""
    promulgation_amount: int = 0
    page_amount: int = 0
    direction: bool = False
    appendixes: list[str] = field(default_factory=list)


@dataclass
class ResponseFor:
    """A referenced (replied-to) document; every child may be empty in real packets."""

    organ_id: str = ""
    code: str = ""
    promulgation_date: date | None = None
    document_id: str = ""


@dataclass
class MessageHeader:
    """Document metadata of an edoc packet (§1.2)."""

    from_: Organization
    to: list[Organization]
    document_id: str
    code: Code
    promulgation_info: PromulgationInfo
    document_type: DocumentType
    subject: str
    content: str = ""
    signer_info: SignerInfo = field(default_factory=SignerInfo)
    due_date: date | None = None
    to_places: list[str] = field(default_factory=list)
    other_info: OtherInfo = field(default_factory=OtherInfo)
    response_for: list[ResponseFor] = field(default_factory=list)
    steering_type: int = 0
    response_for_task: str | None = None
    application_type: str | None = None


@dataclass
class TraceHeader:
    """One hop. Real relays add entries with only a ``Timestamp`` (no OrganId); those are kept, with
    ``organ_id`` empty, so a packet we forward carries every hop the axis recorded (PROTOCOLS.md §1.3)."""

    organ_id: str = ""
    timestamp: datetime | None = None


@dataclass
class StaffInfo:
    department: str = ""
    department_id: str = ""
    staff: str = ""
    staff_id: str = ""
    email: str = ""
    mobile: str = ""


@dataclass
class Receiver:
    organ_id: str
    receiver_type: int = 0


@dataclass
class BusinessDocumentInfo:
    """Update details (BussinessDocType 2); value semantics are unknown upstream ([U])."""

    document_info: str = "0"
    document_receiver: str = "0"
    receivers: list[Receiver] = field(default_factory=list)


@dataclass
class ReplacementInfo:
    """Replace details (BussinessDocType 3): the replaced document and who holds it."""

    document_id: str
    organ_ids: list[str] = field(default_factory=list)


@dataclass
class Business:
    """``Bussiness`` (sic) inside ``TraceHeaderList``."""

    doc_type: BusinessDocType = BusinessDocType.NEW
    doc_reason: str = ""
    document_id: str = ""
    paper: int = 0
    staff_info: StaffInfo = field(default_factory=StaffInfo)
    document_info: BusinessDocumentInfo | None = None
    replacements: list[ReplacementInfo] = field(default_factory=list)


@dataclass
class TraceHeaderList:
    trace_headers: list[TraceHeader] = field(default_factory=list)
    business: Business = field(default_factory=Business)
    #: Attributes some builders put on the list (``id``, ``version``, ``mustUnderstand``, ``actor``), kept
    #: so a relayed packet is re-emitted as received.
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass
class SignatureInfo:
    """What the reader found where an XML-DSig ``Signature`` belongs (§1.4).

    Verification is the job of ``signing/``; this only records presence and shape so a verifier (or a
    human) knows whether there is anything to verify. ``xml`` holds the element's serialised bytes.
    """

    present: bool
    in_xmldsig_namespace: bool = False
    empty_digital_signature: bool = False
    signature_method: str = ""
    digest_method: str = ""
    x509_subject_name: str = ""
    xml: bytes | None = None


@dataclass
class Attachment:
    """One file; ``content`` is the decoded bytes (the ZIP itself when ``content_type`` is a zip)."""

    content_id: str
    attachment_name: str
    content: bytes
    content_type: str = "application/octet-stream"
    description: str = ""

    @property
    def is_zipped(self) -> bool:
        return self.content_type.lower() in ZIP_CONTENT_TYPES

    def encoded(self) -> bytes:
        """The base64 of ``content`` (what the writer puts in ``ContentTransferEncoded``)."""
        return base64.b64encode(self.content)

    def unzip(self, max_bytes: int = MAX_UNZIPPED_BYTES) -> dict[str, bytes]:
        """The files inside a zipped attachment, refusing archives that expand beyond ``max_bytes``."""
        if not self.is_zipped:
            raise EdxmlError("not-zipped", f"attachment {self.content_id} is {self.content_type}, not a zip")
        files: dict[str, bytes] = {}
        total = 0
        try:
            with zipfile.ZipFile(io.BytesIO(self.content)) as archive:
                for info in archive.infolist():
                    total += info.file_size
                    if total > max_bytes:
                        raise EdxmlError(
                            "zip-too-large", f"attachment {self.content_id} expands past {max_bytes} bytes"
                        )
                    if not info.is_dir():
                        files[info.filename] = archive.read(info)
        except zipfile.BadZipFile as exc:
            raise EdxmlError("bad-zip", f"attachment {self.content_id} is not a valid zip: {exc}") from exc
        return files

    @classmethod
    def zipped(cls, attachment_name: str, files: dict[str, bytes], description: str = "") -> Attachment:
        """Build a zipped attachment (the SDK's "zipFile" option) from ``{name: bytes}``."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for name, data in files.items():
                archive.writestr(name, data)
        return cls(new_content_id(), attachment_name, buffer.getvalue(), "application/zip", description)


class EncodedAttachment(Attachment):
    """An attachment read from a packet: ``content`` is decoded from the packet's base64 on first read.

    The reader has already checked that the base64 is well-formed (characters, length, padding), so the
    decode cannot fail; a relay that only forwards the packet never pays for it, and re-writing the packet
    reuses the received base64 text as is (:meth:`encoded`).
    """

    def __init__(self, content_id: str, attachment_name: str, payload: Payload, content_type: str = "",
                 description: str = "") -> None:
        self._payload: Payload | None = payload
        self._decoded: bytes | None = None
        self._ready = False
        super().__init__(content_id, attachment_name, b"", content_type or "application/octet-stream", description)
        self._ready = True

    @property
    def content(self) -> bytes:
        if self._decoded is None:
            assert self._payload is not None
            self._decoded = self._payload.decode()
        return self._decoded

    @content.setter
    def content(self, value: bytes) -> None:
        if self._ready:  # an explicit assignment replaces the received payload
            self._payload = None
            self._decoded = value

    @property
    def encoded_size(self) -> int:
        """Length of the received base64 text (no decoding)."""
        return len(self._payload) if self._payload is not None else len(self.encoded())

    def encoded(self) -> bytes:
        if self._payload is not None and self._decoded is None:
            data = self._payload.data[self._payload.start : self._payload.stop]
            return data if not any(ch in data for ch in (b"\n", b"\r", b" ", b"\t")) else b"".join(data.split())
        return super().encoded()


@dataclass
class ManifestReference:
    """``edXMLManifest/Reference``; ``content_id`` is stored normalised to ``cid:<id>``."""

    content_id: str
    content_type: str = "application/octet-stream"
    description: str = ""
    attachment_name: str = ""
    href: str | None = None

    @property
    def is_external(self) -> bool:
        """True only for an ``xlink:href`` naming another URI; ``""`` and ``cid:…`` mean "in this packet".

        Real SDK packets carry ``xlink:href=""`` or ``xlink:href="cid:<the attachment's id>"`` (PROTOCOLS.md
        §1.1). An external reference is kept and reported, never fetched (no network, no SSRF).
        """
        if self.href is None:
            return False
        href = self.href.strip()
        return bool(href) and not href.lower().startswith("cid:")


@dataclass
class DocumentPacket:
    """An edoc packet. ``manifest`` is derived from ``attachments`` by the writer when left empty."""

    header: MessageHeader
    trace: TraceHeaderList = field(default_factory=TraceHeaderList)
    attachments: list[Attachment] = field(default_factory=list)
    manifest: list[ManifestReference] = field(default_factory=list)
    signature: SignatureInfo | None = None

    @property
    def targets(self) -> list[str]:
        """The DocumentIds a revoke / update / replace acts on (empty for a new document).

        Where real producers put the target (PROTOCOLS.md §1.3, corrected): a revocation names it in
        ``MessageHeader/ResponseFor/DocumentId``, a replacement in ``ReplacementInfo/DocumentId``; older
        builders (and lgsp's own writer) also put it in ``Bussiness/DocumentId``. Whichever is present is
        the target; the packet's own DocumentId never is.
        """
        business = self.trace.business
        if business.doc_type == BusinessDocType.NEW:
            return []
        own = self.header.document_id.strip()

        def clean(values: list[str]) -> list[str]:
            return [t for t in dict.fromkeys(v.strip() for v in values) if t and t != own]

        replaced = clean([r.document_id for r in business.replacements])
        if business.doc_type == BusinessDocType.REPLACE and replaced:
            return replaced
        return clean([business.document_id] + [r.document_id for r in self.header.response_for])


@dataclass
class StatusResponseFor:
    """The original document a status packet is about."""

    organ_id: str
    code: str
    document_id: str
    promulgation_date: date | None = None


@dataclass
class StatusPacket:
    """A business status packet (§1.6), sent back with ``messagetype=status``."""

    from_: Organization
    response_for: StatusResponseFor
    status_code: StatusCode
    timestamp: datetime
    description: str = ""
    staff_info: StaffInfo = field(default_factory=StaffInfo)


def new_content_id() -> str:
    """A fresh ``cid:<uuid>`` for a manifest reference / attachment pair."""
    return f"cid:{uuid.uuid4()}"
