"""The format-sniffing entry point: bytes in, one :class:`~signing.report.Report` out.

The gateway, the CLI and the HTTP endpoint all call this, so a document is judged the same way wherever
it arrives. A :class:`Verifier` holds the long-lived parts (trust store, policy, revocation and chain
caches); keep one per configuration rather than building one per request, or the caches do nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from .chain import ChainValidator
from .jws import JwsFormatError, JwsVerifier, KeyLookup
from .pdf import PdfFormatError, PdfVerifier
from .policy import Policy
from .report import DocumentInfo, Indication, Report, SubIndication
from .revocation import RevocationCache
from .trust import TrustStore
from .xmldsig import XmlFormatError, XmlVerifier

_COMPACT_JWS = re.compile(rb"^\s*[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\s*$")


def sniff(data: bytes, content_type: str | None = None) -> str:
    """'pdf' | 'xml' | 'jws' | 'unknown' — by content type first, then by the bytes themselves."""
    ct = (content_type or "").lower().split(";")[0].strip()
    if ct == "application/pdf":
        return "pdf"
    if ct.endswith("/xml") or ct.endswith("+xml"):
        return "xml"
    if ct in {"application/jose", "application/jose+json", "application/jws"}:
        return "jws"
    head = data[:1024].lstrip()
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if head.startswith(b"<"):
        return "xml"
    if _COMPACT_JWS.match(data[:65536]) or (head.startswith(b"{") and b'"payload"' in data and b'"signature' in data):
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
        return report

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
