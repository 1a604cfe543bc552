"""RFC 3161 timestamp tokens outside PDFs (XAdES-T), validated like any other signer.

pyhanko does this for PDFs internally; XML signatures carry the token in ``EncapsulatedTimeStamp`` and
need the same treatment: token signature, TSA chain and revocation on our anchors, and a message imprint
equal to the hash of exactly the bytes the timestamp claims to cover.
"""

from __future__ import annotations

import hashlib
from typing import Any

from asn1crypto import cms

from .chain import ChainValidator, run_sync
from .limits import MAX_CERTIFICATES, over
from .report import TimestampInfo
from .revocation import EvidenceRecorder


def timestamp_status(token_der: bytes, covered: bytes, validator: ChainValidator) -> TimestampInfo:
    """Validate a DER ``ContentInfo`` time-stamp token over ``covered``; raises ValueError if unreadable."""
    from pyhanko.sign.validation.generic_cms import validate_tst_signed_data  # heavy: only for XAdES-T
    from pyhanko.sign.validation.status import TimestampSignatureStatus

    info = cms.ContentInfo.load(token_der)
    if info["content_type"].native != "signed_data":
        raise ValueError("time-stamp token is not CMS SignedData")
    signed_data = info["content"]
    problem = over(len(signed_data["certificates"] or []), MAX_CERTIFICATES, "certificates in one time-stamp token")
    if problem:  # path building for the TSA tries every combination of them, like a signer's
        raise ValueError(problem)

    def imprint(algorithm: str) -> bytes:
        return hashlib.new(algorithm.replace("_", "-") if algorithm.startswith("sha3") else algorithm,
                           covered).digest()

    async def run() -> dict[str, Any]:
        recorder = EvidenceRecorder.for_policy(validator.revocation_cache, validator.policy)
        context = validator.context(recorder=recorder)
        return await validate_tst_signed_data(signed_data, context, imprint)

    status = TimestampSignatureStatus(**run_sync(run))
    return TimestampInfo(
        kind="signature-timestamp",
        time=status.timestamp,
        valid=status.valid and status.intact,
        trusted=status.trusted,
        tsa=status.signing_cert.subject.human_friendly,
    )
