"""A throw-away PKI for tests and benchmarks, plus a real CRL/OCSP responder app.

Tests must exercise real crypto and real HTTP, and must never commit private keys. So everything here is
generated at run time with ``cryptography``: root → intermediate → signers of every kind a verifier must
tell apart (good, revoked, expired, wrong key usage, untrusted root, weak key, EC, TSA). The responder is a
plain ASGI app; callers serve it on 127.0.0.1 (e.g. with ``lgsp.testing.servers.start_server``) and pass
its URL in, because the URLs are baked into the certificates' CRL DP / AIA extensions.

This module is the import path; the parts are ``testing_pki`` (identities, CRLs, OCSP answers),
``testing_responder`` (the ASGI responder) and the signed fixtures by format: ``testing_xml``,
``testing_pdf``, ``testing_jws``.
"""

from __future__ import annotations

from signing.testing_jws import sign_detached_jws, sign_jws
from signing.testing_pdf import add_dss, minimal_pdf, sign_pdf, timestamp_pdf
from signing.testing_pki import (
    UTC,
    Identity,
    Issuer,
    PrivateKey,
    TestPki,
    build_pki,
    cert_name,
    core_bit_string,
    key_usage,
    new_rsa,
    ocsp_response_for,
    reencoding_sensitive_copy,
)

# the short aliases tests/signing/test_signing_policy_trust.py uses
from signing.testing_pki import _Issuer as _Issuer
from signing.testing_pki import _ku as _ku
from signing.testing_pki import _name as _name
from signing.testing_responder import Receive, RevocationResponder, Send
from signing.testing_xml import (
    EDXML_TEMPLATE,
    add_revocation_values,
    add_signature_timestamp,
    edxml_document,
    sign_detached_xml,
    sign_references,
    sign_xml,
)

__all__ = [
    "EDXML_TEMPLATE",
    "UTC",
    "Identity",
    "Issuer",
    "PrivateKey",
    "Receive",
    "RevocationResponder",
    "Send",
    "TestPki",
    "add_dss",
    "add_revocation_values",
    "add_signature_timestamp",
    "build_pki",
    "cert_name",
    "core_bit_string",
    "edxml_document",
    "key_usage",
    "minimal_pdf",
    "new_rsa",
    "ocsp_response_for",
    "reencoding_sensitive_copy",
    "sign_detached_jws",
    "sign_detached_xml",
    "sign_jws",
    "sign_pdf",
    "sign_references",
    "sign_xml",
    "timestamp_pdf",
]

