"""A ready signature hook backed by ``signing/``: ``LGSP_DOCUMENTS_SIGNATURE_HOOK=lgsp.documents.signing_hook:verify``.

It uses the trust anchors and policy of the gateway's settings (``LGSP_TRUST_PATHS``,
``LGSP_SIGNATURE_POLICY_FILE``); the verifier is built once per process. Without trust anchors it
refuses to run (fail closed: the packet is refused) rather than pass every signature.
"""

from __future__ import annotations

import functools

from adapters.vdxp.edxml import SignatureInfo
from lgsp.settings import Settings
from signing import Policy, TrustStore, Verifier


@functools.cache
def _verifier() -> Verifier:
    settings = Settings.load()
    paths = [p.strip() for p in settings.trust_paths.split(",") if p.strip()]
    if not paths:
        raise RuntimeError("no trust anchors configured (LGSP_TRUST_PATHS): edXML signatures cannot be verified")
    policy = Policy.from_file(settings.signature_policy_file) if settings.signature_policy_file else Policy()
    return Verifier(TrustStore.from_paths(paths), policy)


def verify(data: bytes, signature: SignatureInfo) -> object:
    """The signing report of the packet's enveloped XML-DSig signature (indication TOTAL_FAILED refuses it)."""
    return _verifier().verify(data, "application/xml")
