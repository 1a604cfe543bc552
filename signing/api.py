"""The format-sniffing entry point: bytes in, one :class:`~signing.report.Report` out.

The gateway, the CLI and the HTTP endpoint all call this, so a document is judged the same way wherever
it arrives. A :class:`Verifier` holds the long-lived parts (trust store, policy, revocation and chain
caches); keep one per configuration rather than building one per request, or the caches do nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from .chain import ChainValidator
from .edxml import attachments as edxml_attachments
from .failures import verdict_for
from .jws import JwsFormatError, JwsVerifier, KeyLookup
from .pdf import PdfFormatError, PdfVerifier
from .policy import Policy
from .report import DocumentInfo, Indication, Report, SubIndication
from .revocation import RevocationCache
from .trust import TrustStore
from .xmldsig import XmlFormatError, XmlVerifier


def sniff(data: bytes, content_type: str | None = None) -> str:
    """'pdf' | 'xml' | 'jws' | 'unknown' — by content type first, then by the bytes themselves."""
    ct = (content_type or "").lower().split(";")[0].strip()
    if ct == "application/pdf":
        return "pdf"
    if ct.endswith("/xml") or ct.endswith("+xml"):
        return "xml"
    if ct in {"application/jose", "application/jose+json", "application/jws"}:
        return "jws"
    head = data[:1024].removeprefix(b"\xef\xbb\xbf").lstrip()  # a UTF-8 BOM is common from Windows tools
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"<"):
        return "xml"
    if head.startswith(b"ey") and data.count(b".") == 2:
        return "jws"  # compact: a JSON header always encodes to "ey..."; the JWS parser validates the rest
    if head.startswith(b"{") and b'"payload"' in data and b'"signature' in data:
        return "jws"
    return "unknown"


class Verifier:
    """Verifies any supported signed document under one trust store and policy."""

    def __init__(self, trust: TrustStore, policy: Policy | None = None, *, key_lookup: KeyLookup | None = None,
                 revocation_cache: RevocationCache | None = None) -> None:
        self.policy = policy or Policy()
        self.trust = trust
        self.chain = ChainValidator(trust, self.policy, revocation_cache)
        self.xml = XmlVerifier(self.chain)
        self.pdf = PdfVerifier(self.chain)
        self.jws = JwsVerifier(self.chain, key_lookup)

    def verify(self, data: bytes, content_type: str | None = None, *, must_cover: Sequence[str] | None = None,
               namespaces: Mapping[str, str] | None = None) -> Report:
        """Verify every signature in ``data``. ``must_cover`` (XML only): XPaths the signature must protect,
        default the whole document (``/*``)."""
        kind = sniff(data, content_type)
        report = Report(
            document=DocumentInfo(kind, len(data), hashlib.sha256(data).hexdigest(), content_type),
            policy=self.policy.label,
            validation_time=datetime.now(UTC),
        )
        if len(data) > self.policy.max_document_bytes:
            self._format_failure(report, f"document of {len(data)} bytes exceeds the policy limit of "
                                         f"{self.policy.max_document_bytes} bytes")
            return report
        try:
            if kind == "xml":
                report.signatures, notes = self.xml.verify(
                    data, must_cover=("/*",) if must_cover is None else must_cover, namespaces=namespaces)
                report.warnings += notes
            elif kind == "pdf":
                report.signatures = self.pdf.verify(data)
            elif kind == "jws":
                report.signatures = self.jws.verify(data)
            else:
                self._format_failure(report, "unrecognised document: neither XML, PDF nor JWS")
        except (XmlFormatError, PdfFormatError, JwsFormatError, UnicodeDecodeError) as exc:
            self._format_failure(report, str(exc))
        except Exception as exc:  # every input gets a verdict, never a traceback (issue 12)
            report.signatures = []
            report.document_indication, report.document_sub_indication, message = verdict_for(exc)
            report.errors.append(message)
        return report

    def verify_packet(self, data: bytes, content_type: str | None = None, *,
                      must_cover: Sequence[str] | None = None) -> tuple[Report, dict[str, Report]]:
        """An edXML packet and the PDFs it carries: (the packet's report, {attachment name: PDF report}).

        For a gateway ``require`` policy every one of these must pass. Non-PDF attachments are not
        signature-bearing here and are skipped; a PDF attachment that is not valid base64 gets a
        FORMAT_FAILURE report of its own.
        """
        packet = self.verify(data, content_type, must_cover=must_cover)
        attached: dict[str, Report] = {}
        if packet.document.format != "xml":
            return packet, attached
        try:
            items = edxml_attachments(data, self.policy.max_document_bytes)
        except Exception:  # unacceptable XML is already a verdict in the packet report
            return packet, attached
        for index, item in enumerate(items, 1):
            if not item.is_pdf:
                continue
            key = item.name or item.content_id or f"attachment-{index}"
            if item.data is None:
                report = Report(DocumentInfo("pdf", 0, "", item.content_type), self.policy.label, datetime.now(UTC))
                self._format_failure(report, item.error or "attachment could not be decoded")
            else:
                report = self.verify(item.data, "application/pdf")
            attached[key] = report
        return packet, attached

    @staticmethod
    def _format_failure(report: Report, message: str) -> None:
        report.document_indication = Indication.TOTAL_FAILED
        report.document_sub_indication = SubIndication.FORMAT_FAILURE
        report.errors.append(message)


def verify(data: bytes, content_type: str | None = None, *, trust: TrustStore | None = None,
           policy: Policy | None = None, verifier: Verifier | None = None,
           must_cover: Sequence[str] | None = None) -> Report:
    """One-shot convenience; pass a long-lived ``verifier`` in anything that runs more than once."""
    if verifier is None:
        if trust is None:
            raise ValueError("verify() needs a trust store (or a configured Verifier): nothing is trusted by default")
        verifier = Verifier(trust, policy)
    return verifier.verify(data, content_type, must_cover=must_cover)
