"""A ready signature hook backed by ``signing/``: ``LGSP_DOCUMENTS_SIGNATURE_HOOK=lgsp.documents.signing_hook:verify``.

It uses the trust anchors and policy of the gateway's settings (``LGSP_TRUST_PATHS``,
``LGSP_SIGNATURE_POLICY_FILE``); the verifier is built once per process. Without trust anchors it
refuses to run (fail closed: the packet is refused) rather than pass every signature.
"""

from __future__ import annotations

import functools

from lgsp.settings import Settings
from signing import Verifier
from signing.config import SignatureSettings


@functools.cache
def _verifier() -> Verifier:
    settings = Settings.load()
    config = SignatureSettings.from_values(settings.trust_paths, settings.signature_policy_file)
    if not config.trust_paths:
        raise RuntimeError("no trust anchors configured (LGSP_TRUST_PATHS): edXML signatures cannot be verified")
    return config.verifier()


def verify(data: bytes, signature: object) -> object:
    """The signing report of the packet's enveloped XML-DSig signature (indication TOTAL_FAILED refuses it).

    ``signature`` is what the axis reader found about the signature; the verifier reads the packet itself.
    """
    return _verifier().verify(data, "application/xml")
