"""The one report model every verifier returns (shaped after the EU DSS simple report).

Callers — the gateway, the CLI, the HTTP endpoint, an auditor reading JSON — must not care whether the
signature was XML, PDF or JWS. So each format's verifier fills the same dataclasses; the document-level
indication is the worst of its signatures, which is what a ``signature: require`` policy tests.

Indications and sub-indications follow ETSI EN 319 102-1 naming so that the figures can be compared with
DSS output by someone who knows that standard.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Indication(StrEnum):
    TOTAL_PASSED = "TOTAL_PASSED"
    TOTAL_FAILED = "TOTAL_FAILED"
    INDETERMINATE = "INDETERMINATE"


class SubIndication(StrEnum):
    # TOTAL_FAILED
    FORMAT_FAILURE = "FORMAT_FAILURE"
    HASH_FAILURE = "HASH_FAILURE"
    SIG_CRYPTO_FAILURE = "SIG_CRYPTO_FAILURE"
    REVOKED = "REVOKED"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    # INDETERMINATE
    NO_SIGNATURE_FOUND = "NO_SIGNATURE_FOUND"
    NO_SIGNING_CERTIFICATE_FOUND = "NO_SIGNING_CERTIFICATE_FOUND"
    NO_CERTIFICATE_CHAIN_FOUND = "NO_CERTIFICATE_CHAIN_FOUND"
    REVOKED_NO_POE = "REVOKED_NO_POE"
    REVOKED_CA_NO_POE = "REVOKED_CA_NO_POE"
    OUT_OF_BOUNDS_NO_POE = "OUT_OF_BOUNDS_NO_POE"
    TRY_LATER = "TRY_LATER"
    SIGNED_DATA_NOT_FOUND = "SIGNED_DATA_NOT_FOUND"
    CHAIN_CONSTRAINTS_FAILURE = "CHAIN_CONSTRAINTS_FAILURE"
    SIG_CONSTRAINTS_FAILURE = "SIG_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE = "CRYPTO_CONSTRAINTS_FAILURE"
    CRYPTO_CONSTRAINTS_FAILURE_NO_POE = "CRYPTO_CONSTRAINTS_FAILURE_NO_POE"
    GENERIC = "GENERIC"
    CERTIFICATE_CHAIN_GENERAL_FAILURE = "CERTIFICATE_CHAIN_GENERAL_FAILURE"


_SEVERITY = {Indication.TOTAL_PASSED: 0, Indication.INDETERMINATE: 1, Indication.TOTAL_FAILED: 2}
#: Characters of one error message kept in a report. Library messages quote the offending input (libxml2
#: put 64 KB of a 5 MB SignatureValue into its schema error), and a report travels into the audit log,
#: the rendered text and a 422 body.
MAX_MESSAGE_CHARS = 2000


def bounded(message: str) -> str:
    """``message``, cut to :data:`MAX_MESSAGE_CHARS` with a note of how long it was."""
    if len(message) <= MAX_MESSAGE_CHARS:
        return message
    return f"{message[:MAX_MESSAGE_CHARS]}… (message of {len(message)} characters cut)"


@dataclass
class CertInfo:
    """What a reader needs to identify a certificate without parsing DER."""

    subject: str
    issuer: str
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime
    key_usage: list[str] = field(default_factory=list)


@dataclass
class RevocationEvidence:
    """One piece of revocation data used for one certificate of the chain."""

    kind: str  # "CRL" | "OCSP"
    certificate: str  # subject of the certificate the evidence is about
    status: str  # "good" | "revoked" | "unknown" | "unavailable"
    source: str | None = None  # URL it came from
    this_update: datetime | None = None
    next_update: datetime | None = None
    revocation_time: datetime | None = None
    from_cache: bool = False
    nonce_checked: bool | None = None  # OCSP only: our nonce came back in the response
    error: str | None = None


@dataclass
class AlgorithmUse:
    """An algorithm the signature depends on; ``weak`` is the policy's verdict at validation time."""

    role: str  # "signature" | "digest" | "reference-digest" | "key"
    name: str
    key_size: int | None = None
    weak: bool = False


@dataclass
class CoveredPart:
    """Exactly one thing the signature protects, with the digest of the bytes that were checked."""

    description: str
    sha256: str | None = None
    size: int | None = None


@dataclass
class TimestampInfo:
    kind: str  # "signature-timestamp" | "document-timestamp" | "content-timestamp"
    time: datetime
    valid: bool
    trusted: bool
    tsa: str | None = None


@dataclass
class SignatureReport:
    """The verdict on one signature in the document."""

    id: str
    format: str  # e.g. "XMLDSig", "XAdES-BES", "PAdES", "JWS-compact"
    indication: Indication = Indication.INDETERMINATE
    sub_indication: SubIndication | None = None
    signer: CertInfo | None = None
    claimed_signing_time: datetime | None = None
    proven_signing_time: datetime | None = None
    timestamps: list[TimestampInfo] = field(default_factory=list)
    chain: list[CertInfo] = field(default_factory=list)
    revocation: list[RevocationEvidence] = field(default_factory=list)
    algorithms: list[AlgorithmUse] = field(default_factory=list)
    covered: list[CoveredPart] = field(default_factory=list)
    not_covered: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)
    # The bytes the signature actually protects, as the crypto library returned them. Callers that act on
    # signed content must use these, never re-read the original document (signature wrapping). Not in JSON.
    signed_content: bytes | None = field(default=None, repr=False, compare=False)

    def fail(self, indication: Indication, sub: SubIndication, message: str) -> SignatureReport:
        """Record a verdict; a worse verdict always wins over an earlier, milder one."""
        if self.sub_indication is None or _SEVERITY[indication] > _SEVERITY[self.indication]:
            self.indication = indication
            self.sub_indication = sub
        self.errors.append(bounded(message))
        return self

    @property
    def failed(self) -> bool:
        return self.sub_indication is not None and self.indication is not Indication.TOTAL_PASSED


@dataclass
class DocumentInfo:
    format: str  # "xml" | "pdf" | "jws" | "unknown"
    size: int
    sha256: str
    content_type: str | None = None


@dataclass
class Report:
    """The whole verdict on one document: worst signature wins."""

    document: DocumentInfo
    policy: str
    validation_time: datetime
    signatures: list[SignatureReport] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Set when the document itself could not be processed (garbage, XXE, no signature at all).
    document_indication: Indication | None = None
    document_sub_indication: SubIndication | None = None

    @property
    def indication(self) -> Indication:
        if self.document_indication is not None:
            return self.document_indication
        if not self.signatures:
            return Indication.INDETERMINATE
        return max((s.indication for s in self.signatures), key=lambda i: _SEVERITY[i])

    @property
    def sub_indication(self) -> SubIndication | None:
        if self.document_indication is not None:
            return self.document_sub_indication
        if not self.signatures:
            return SubIndication.NO_SIGNATURE_FOUND
        worst = self.indication
        for sig in self.signatures:
            if sig.indication is worst and sig.sub_indication is not None:
                return sig.sub_indication
        return None

    @property
    def passed(self) -> bool:
        return self.indication is Indication.TOTAL_PASSED

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for sig in data["signatures"]:
            sig.pop("signed_content", None)
        data.pop("document_indication")
        data.pop("document_sub_indication")
        data = {"indication": self.indication, "sub_indication": self.sub_indication, **data}
        result: dict[str, Any] = _jsonable(data)
        return result

    def to_json(self, *, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, sort_keys=indent is None)

    def digest(self) -> str:
        """SHA-256 of the canonical JSON form: what the audit entry records to bind the verdict."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def render_text(self) -> str:
        return render_text(self)


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return value


def _fmt_time(value: datetime | None) -> str:
    return value.isoformat() if value else "-"


def render_text(report: Report) -> str:
    """A human-readable rendering for the CLI and for operators reading logs."""
    sub = f" / {report.sub_indication}" if report.sub_indication else ""
    lines = [
        f"Document: {report.document.format}, {report.document.size} bytes, sha256 {report.document.sha256}",
        f"Result:   {report.indication}{sub}",
        f"Policy:   {report.policy}   validated at {_fmt_time(report.validation_time)}",
    ]
    lines += [f"  error: {e}" for e in report.errors]
    lines += [f"  warning: {w}" for w in report.warnings]
    for sig in report.signatures:
        sig_sub = f" / {sig.sub_indication}" if sig.sub_indication else ""
        lines.append("")
        lines.append(f"Signature {sig.id} ({sig.format}): {sig.indication}{sig_sub}")
        if sig.signer:
            lines.append(f"  signer:        {sig.signer.subject}")
            lines.append(f"  issuer:        {sig.signer.issuer}")
            lines.append(f"  valid:         {_fmt_time(sig.signer.not_before)} .. {_fmt_time(sig.signer.not_after)}")
        lines.append(f"  claimed time:  {_fmt_time(sig.claimed_signing_time)}")
        if sig.proven_signing_time:
            lines.append(f"  proven time:   {_fmt_time(sig.proven_signing_time)}")
        for ts in sig.timestamps:
            lines.append(f"  timestamp:     {ts.kind} {_fmt_time(ts.time)} valid={ts.valid} trusted={ts.trusted}")
        if sig.chain:
            lines.append("  chain:         " + " -> ".join(c.subject for c in sig.chain))
        for ev in sig.revocation:
            cached = " (cached)" if ev.from_cache else ""
            lines.append(f"  revocation:    {ev.kind} {ev.status} for {ev.certificate}{cached}")
        for alg in sig.algorithms:
            weak = " WEAK" if alg.weak else ""
            size = f" {alg.key_size} bits" if alg.key_size else ""
            lines.append(f"  algorithm:     {alg.role}: {alg.name}{size}{weak}")
        for part in sig.covered:
            lines.append(f"  covers:        {part.description}")
        for part_name in sig.not_covered:
            lines.append(f"  NOT covered:   {part_name}")
        lines += [f"  error:         {e}" for e in sig.errors]
        lines += [f"  warning:       {w}" for w in sig.warnings]
        lines += [f"  info:          {i}" for i in sig.infos]
    return "\n".join(lines)
