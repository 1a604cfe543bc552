"""A ready signature hook backed by ``signing/``: ``LGSP_DOCUMENTS_SIGNATURE_HOOK=lgsp.documents.signing_hook:verify``.

It uses the trust anchors and policy of the gateway's settings (``LGSP_TRUST_PATHS``,
``LGSP_SIGNATURE_POLICY_FILE``); the verifier is built once per process. Without trust anchors it
refuses to run (fail closed) rather than pass every signature.
"""

from __future__ import annotations

import functools

from adapters.vdxp.edxml import SignatureInfo
from lgsp.gateway.signatures import build_verifier
from lgsp.settings import Settings
from signing.api import Verifier


@functools.cache
def _verifier() -> Verifier:
    verifier = build_verifier(Settings.load())
    if verifier is None:
        raise RuntimeError("no trust anchors configured (LGSP_TRUST_PATHS): edXML signatures cannot be verified")
    return verifier


def verify(data: bytes, signature: SignatureInfo) -> object:
    """The signing report of the packet's enveloped XML-DSig signature (indication TOTAL_FAILED refuses it)."""
    return _verifier().verify(data, "application/xml")
