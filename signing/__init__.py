"""Signature verification (XMLDSig/XAdES, PAdES, JWS) with one report model.

Depends on nothing else of lgsp, so it can be used (and audited) on its own. Public API::

    from signing import TrustStore, Policy, Verifier
    verifier = Verifier(TrustStore.from_paths(["/etc/lgsp/trust"]), Policy.from_file("policy.yaml"))
    report = verifier.verify(data, content_type)   # -> Report; report.passed, report.to_json()

The names are imported on first use (PEP 562): ``import signing.cli`` must not pay for pyHanko, signxml
and joserfc before it knows which format the file is (``lgsp verify`` answers in well under a second).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .api import Verifier, sniff, verify
    from .policy import Check, Level, Policy, strict_policy
    from .report import Indication, Report, SignatureReport, SubIndication
    from .trust import TrustStore, TrustStoreError

_EXPORTS = {
    "Verifier": "api", "sniff": "api", "verify": "api",
    "Check": "policy", "Level": "policy", "Policy": "policy", "strict_policy": "policy",
    "Indication": "report", "Report": "report", "SignatureReport": "report", "SubIndication": "report",
    "TrustStore": "trust", "TrustStoreError": "trust",
}

__all__ = [
    "Check", "Indication", "Level", "Policy", "Report", "SignatureReport", "SubIndication", "TrustStore",
    "TrustStoreError", "Verifier", "sniff", "strict_policy", "verify",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'signing' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
