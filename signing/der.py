"""Certificates from bytes, kept exactly as they were signed.

asn1crypto keeps the bytes it parsed and ``dump()`` returns them — except when the outer encoding uses an
indefinite length (BER, seen from some Windows-era CA tools): then ``dump()`` (which ``.sha256``, cache keys
and certificate stores call) re-encodes the whole tree *in place*, and fields asn1crypto serialises
differently (issuer/subject unique identifiers with unused bits, for one) change, so the issuer's signature
over the TBSCertificate no longer verifies. A fingerprint taken before validation then breaks validation.

So every certificate lgsp parses goes through :func:`load_certificate`: an indefinite outer length is
replaced by the definite one, leaving every byte the issuer signed untouched; after that ``dump()`` never
re-encodes. :func:`fingerprint` hashes those original bytes.
"""

from __future__ import annotations

import hashlib

from asn1crypto import x509 as asn1_x509


def _definite_header(tag: int, length: int) -> bytes:
    if length < 0x80:
        return bytes([tag, length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(body)]) + body


def load_certificate(data: bytes) -> asn1_x509.Certificate:
    """Parse one certificate; raises ValueError (asn1crypto's own) when it is not one."""
    cert = asn1_x509.Certificate.load(data)
    header = getattr(cert, "_header", None) or b""
    if header[-1:] == b"\x80":  # indefinite length: rewrap the unchanged contents in a definite length
        cert = asn1_x509.Certificate.load(_definite_header(data[0], len(cert.contents)) + cert.contents)
    return cert


def fingerprint(cert: asn1_x509.Certificate) -> str:
    """SHA-256 (hex) of the certificate's bytes as parsed; never triggers a re-encoding.

    Memoised on the object: ``dump()`` walks the whole tree to see whether anything was changed, which
    costs more than the hash, and the cache key of every verification needs these fingerprints.
    lgsp never modifies a parsed certificate, so the memo cannot go stale.
    """
    memo = cert.__dict__.get("_lgsp_sha256")
    if memo is None:
        memo = hashlib.sha256(cert.dump()).hexdigest()
        cert.__dict__["_lgsp_sha256"] = memo
    return memo
