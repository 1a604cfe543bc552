"""The format-sniffing entry point: bytes in, one :class:`~signing.report.Report` out.

The gateway, the CLI and the HTTP endpoint all call this, so a document is judged the same way wherever
it arrives. A :class:`Verifier` holds the long-lived parts (trust store, policy, revocation and chain
caches); keep one per configuration rather than building one per request, or the caches do nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from .chain import ChainValidator
from .failures import verdict_for
from .policy import Policy
from .report import DocumentInfo, Indication, Report, SubIndication, bounded
from .revlimits import verification_budget
from .revocation import RevocationCache
from .trust import TrustStore

if TYPE_CHECKING:
    from .jws import JwsVerifier, KeyLookup
    from .pdf import PdfVerifier
    from .xmldsig import XmlVerifier

# Each format's verifier (and its library: signxml, pyHanko, joserfc) is imported on first use.
_FORMAT_ERRORS = frozenset({"XmlFormatError", "PdfFormatError", "JwsFormatError", "UnicodeDecodeError"})


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
    if head.startswith(b"{") and b'"signature' in data and (b'"payload"' in data or b'"protected"' in data):
        return "jws"  # a JSON JWS; with detached content (RFC 7515 Appendix F) it has no "payload" member
    return "unknown"


class Verifier:
    """Verifies any supported signed document under one trust store and policy."""

    def __init__(self, trust: TrustStore, policy: Policy | None = None, *, key_lookup: KeyLookup | None = None,
                 revocation_cache: RevocationCache | None = None) -> None:
        self.policy = policy or Policy()
        self.trust = trust
        self.chain = ChainValidator(trust, self.policy, revocation_cache)
        self.key_lookup = key_lookup
        self._xml: XmlVerifier | None = None
        self._pdf: PdfVerifier | None = None
        self._jws: JwsVerifier | None = None

    @property
    def xml(self) -> XmlVerifier:
        if self._xml is None:
            from .xmldsig import XmlVerifier

            self._xml = XmlVerifier(self.chain)
        return self._xml

    @property
    def pdf(self) -> PdfVerifier:
        if self._pdf is None:
            from .pdf import PdfVerifier

            self._pdf = PdfVerifier(self.chain)
        return self._pdf

    @property
    def jws(self) -> JwsVerifier:
        if self._jws is None:
            from .jws import JwsVerifier

            self._jws = JwsVerifier(self.chain, self.key_lookup)
        return self._jws

    def verify(self, data: bytes, content_type: str | None = None, *, must_cover: Sequence[str] | None = None,
               namespaces: Mapping[str, str] | None = None, detached: Mapping[str, bytes] | None = None) -> Report:
        """Verify every signature in ``data``. ``must_cover`` (XML only): XPaths the signature must protect,
        default the whole document (``/*``); a simple location path only (:mod:`signing.xmlcover`), else
        :class:`~signing.xmlcover.MustCoverError` before anything is verified. ``detached``: documents a
        detached signature refers to, by name (XML: matched to the Reference URI; JWS: the one detached
        payload); they are never fetched."""
        if must_cover is not None:  # the caller's request, judged before the document (MustCoverError)
            from .xmlcover import check_must_cover
            from .xmltree import DEFAULT_NAMESPACES

            check_must_cover(must_cover, {**DEFAULT_NAMESPACES, **(namespaces or {})})
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
        with verification_budget(self.policy.revocation_deadline):  # all its CRL/OCSP fetches together
            self._verify_into(report, data, kind, must_cover, namespaces, detached)
        return report

    def _verify_into(self, report: Report, data: bytes, kind: str, must_cover: Sequence[str] | None,
                     namespaces: Mapping[str, str] | None, detached: Mapping[str, bytes] | None) -> None:
        try:
            if kind == "xml":
                report.signatures, notes = self.xml.verify(
                    data, must_cover=("/*",) if must_cover is None else must_cover, namespaces=namespaces,
                    detached=detached)
                report.warnings += notes
            elif kind == "pdf":
                report.signatures = self.pdf.verify(data)
            elif kind == "jws":
                report.signatures = self.jws.verify(data, detached)
            else:
                self._format_failure(report, "unrecognised document: neither XML, PDF nor JWS")
        except ValueError as exc:
            if type(exc).__name__ in _FORMAT_ERRORS:
                self._format_failure(report, str(exc))
            else:
                report.signatures = []
                report.document_indication, report.document_sub_indication, message = verdict_for(exc)
                report.errors.append(message)
        except Exception as exc:  # every input gets a verdict, never a traceback (issue 12)
            report.signatures = []
            report.document_indication, report.document_sub_indication, message = verdict_for(exc)
            report.errors.append(message)

    def verify_packet(self, data: bytes, content_type: str | None = None, *,
                      must_cover: Sequence[str] | None = None) -> tuple[Report, dict[str, Report]]:
        """An edXML packet and the PDFs it carries: (the packet's report, {attachment name: PDF report}).

        For a gateway ``require`` policy every one of these must pass. Non-PDF attachments are not
        signature-bearing here and are skipped; a PDF attachment that is not valid base64 gets a
        FORMAT_FAILURE report of its own.
        """
        with verification_budget(self.policy.revocation_deadline):  # the packet and its PDFs: one deadline
            return self._verify_packet(data, content_type, must_cover)

    def _verify_packet(self, data: bytes, content_type: str | None,
                       must_cover: Sequence[str] | None) -> tuple[Report, dict[str, Report]]:
        packet = self.verify(data, content_type, must_cover=must_cover)
        attached: dict[str, Report] = {}
        if packet.document.format != "xml":
            return packet, attached
        from .edxml import attachments as edxml_attachments

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
        report.errors.append(bounded(message))


def verify(data: bytes, content_type: str | None = None, *, trust: TrustStore | None = None,
           policy: Policy | None = None, verifier: Verifier | None = None,
           must_cover: Sequence[str] | None = None, detached: Mapping[str, bytes] | None = None) -> Report:
    """One-shot convenience; pass a long-lived ``verifier`` in anything that runs more than once."""
    if verifier is None:
        if trust is None:
            raise ValueError("verify() needs a trust store (or a configured Verifier): nothing is trusted by default")
        verifier = Verifier(trust, policy)
    return verifier.verify(data, content_type, must_cover=must_cover, detached=detached)
