"""Signed JWS fixtures made with the test PKI (compact, JSON and detached forms).
"""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from signing.testing_pki import Identity


def sign_jws(payload: bytes, signer: Identity, *, alg: str | None = None, x5c: bool = True,
             kid: str | None = None, json_form: bool = False) -> str:
    """A JWS by ``signer`` with its chain in ``x5c`` (or only a ``kid`` for registry-key lookups)."""
    import base64
    import json as _json

    from joserfc import jws as _jws
    from joserfc.jwk import ECKey, RSAKey

    is_ec = isinstance(signer.key, ec.EllipticCurvePrivateKey)
    key = ECKey.import_key(signer.key_pem) if is_ec else RSAKey.import_key(signer.key_pem)
    header: dict[str, Any] = {"alg": alg or ("ES256" if is_ec else "RS256")}
    if x5c:
        header["x5c"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in signer.chain]
    if kid:
        header["kid"] = kid
    if json_form:
        return _json.dumps(_jws.serialize_json([{"protected": header}], payload, key))  # general form
    return _jws.serialize_compact(header, payload, key)


def sign_detached_jws(payload: bytes, signer: Identity) -> str:
    """A compact JWS with detached content (RFC 7515 Appendix F): ``header..signature``."""
    header, _, signature = sign_jws(payload, signer).split(".")
    return f"{header}..{signature}"
