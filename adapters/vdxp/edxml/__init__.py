"""edXML (QCVN 102:2016) packets: typed models, a strict writer, a tolerant reader, our XSD.

Public API only; the modules behind it are private in spirit (import from here).
"""

from __future__ import annotations

from .errors import Deviation, EdxmlError
from .formats import NAMESPACE, XMLDSIG_NAMESPACE, format_date, format_timestamp, is_agency_code
from .hashing import document_id, hash_file
from .models import (
    Attachment,
    Business,
    BusinessDocType,
    BusinessDocumentInfo,
    Code,
    DocumentPacket,
    DocumentType,
    ManifestReference,
    MessageHeader,
    Organization,
    OtherInfo,
    PromulgationInfo,
    Receiver,
    ReplacementInfo,
    ResponseFor,
    SignatureInfo,
    SignerInfo,
    StaffInfo,
    StatusPacket,
    StatusResponseFor,
    TraceHeader,
    TraceHeaderList,
    new_content_id,
)
from .reader import ReadResult, SignatureVerifier, read_document, read_packet, read_status
from .schema import PacketKind, schema_dir, schema_errors, validate
from .status_codes import FINAL, TRANSITIONS, StatusCode, can_transition, check_sequence
from .writer import normalise_cid, write_document, write_packet, write_status

__all__ = [
    "FINAL",
    "NAMESPACE",
    "TRANSITIONS",
    "XMLDSIG_NAMESPACE",
    "Attachment",
    "Business",
    "BusinessDocType",
    "BusinessDocumentInfo",
    "Code",
    "Deviation",
    "DocumentPacket",
    "DocumentType",
    "EdxmlError",
    "ManifestReference",
    "MessageHeader",
    "Organization",
    "OtherInfo",
    "PacketKind",
    "PromulgationInfo",
    "ReadResult",
    "Receiver",
    "ReplacementInfo",
    "ResponseFor",
    "SignatureInfo",
    "SignatureVerifier",
    "SignerInfo",
    "StaffInfo",
    "StatusCode",
    "StatusPacket",
    "StatusResponseFor",
    "TraceHeader",
    "TraceHeaderList",
    "can_transition",
    "check_sequence",
    "document_id",
    "format_date",
    "format_timestamp",
    "hash_file",
    "is_agency_code",
    "new_content_id",
    "normalise_cid",
    "read_document",
    "read_packet",
    "read_status",
    "schema_dir",
    "schema_errors",
    "validate",
    "write_document",
    "write_packet",
    "write_status",
]
