"""Signature verification (XMLDSig/XAdES, PAdES, JWS) with one report model.

Depends on nothing else of lgsp, so it can be used (and audited) on its own. Public API::

    from signing import TrustStore, Policy, Verifier
    verifier = Verifier(TrustStore.from_paths(["/etc/lgsp/trust"]), Policy.from_file("policy.yaml"))
    report = verifier.verify(data, content_type)   # -> Report; report.passed, report.to_json()
"""

from .api import Verifier, sniff, verify
from .policy import Check, Level, Policy, strict_policy
from .report import Indication, Report, SignatureReport, SubIndication
from .trust import TrustStore, TrustStoreError

__all__ = [
    "Check",
    "Indication",
    "Level",
    "Policy",
    "Report",
    "SignatureReport",
    "SubIndication",
    "TrustStore",
    "TrustStoreError",
    "Verifier",
    "sniff",
    "strict_policy",
    "verify",
]
