"""JWS verification (compact and JSON serialisations) with joserfc.

A JWS header is attacker-controlled, including its ``alg``. So the key is decided first — from an ``x5c``
chain that must validate like any other signer, or from a caller-supplied lookup (the registry's key for
the client system) — and the header's ``alg`` must then be one that fits that key's type: ``none`` and
HMAC-with-a-public-key (algorithm confusion) never reach the crypto. An embedded ``jwk`` header is never
trusted: anyone can put their own key there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, RSAKey

from .chain import ChainResult, ChainValidator, apply_level, check_claimed_time
from .der import load_certificate
from .failures import fail_with
from .limits import MAX_CERTIFICATES, MAX_SIGNATURES, over
from .policy import Check
from .report import AlgorithmUse, CoveredPart, Indication, SignatureReport, SubIndication

PublicKey = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | ed448.Ed448PublicKey
# Given the protected header, return the public key registered for the sender (or None). The lead wires
# this to the registry (client system -> keys); any cryptography public key object is accepted.
KeyLookup = Callable[[dict[str, Any]], object | None]
_SUPPORTED_KEYS = (rsa.RSAPublicKey, ec.EllipticCurvePublicKey, ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)

# alg -> (key family it requires, policy name of the algorithm)
ALGORITHMS: dict[str, tuple[str, str]] = {
    "RS256": ("rsa", "rsa-sha256"), "RS384": ("rsa", "rsa-sha384"), "RS512": ("rsa", "rsa-sha512"),
    "PS256": ("rsa", "rsa-pss-sha256"), "PS384": ("rsa", "rsa-pss-sha384"), "PS512": ("rsa", "rsa-pss-sha512"),
    "ES256": ("ec:256", "ecdsa-sha256"), "ES384": ("ec:384", "ecdsa-sha384"), "ES512": ("ec:521", "ecdsa-sha512"),
    "EdDSA": ("okp", "eddsa"), "Ed25519": ("okp", "eddsa"),
}


class JwsFormatError(ValueError):
    """Not a JWS in either serialisation."""


_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def _b64url(segment: str) -> bytes:
    """RFC 7515 §2: the URL-safe alphabet, no padding. Python's decoder also takes '=', '+', '/' and skips
    other characters, so a signature segment altered that way still verified (a second encoding of one JWS)."""
    if not _B64URL.fullmatch(segment) or len(segment) % 4 == 1:
        raise JwsFormatError(f"segment is not base64url without padding (RFC 7515 §2): {segment[:40]!r}")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise JwsFormatError(f"bad base64url segment: {exc}") from exc


@dataclass
class _Member:
    protected_b64: str
    signature_b64: str
    protected: dict[str, Any]
    unprotected: dict[str, Any]


def parse(data: bytes) -> tuple[str, str, list[_Member]]:
    """Split any JWS serialisation into (kind, payload_b64, members) without verifying anything."""
    text = data.decode("utf-8", errors="strict").strip() if data else ""
    members: list[_Member] = []
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JwsFormatError(f"JWS JSON is not valid JSON: {exc}") from exc
        if not isinstance(doc, dict) or not ({"signatures", "signature"} & doc.keys()):
            raise JwsFormatError("JWS JSON serialisation needs a 'signatures' or 'signature' member")
        if "signatures" in doc and {"protected", "header", "signature"} & doc.keys():
            # RFC 7515 §7.2.2: the flattened members must not sit beside 'signatures'; which signature such a
            # document carries depends on the parser, so it carries none.
            raise JwsFormatError("JWS JSON mixes the general ('signatures') and flattened serialisations")
        raw = doc["signatures"] if "signatures" in doc else [doc]
        kind = "JWS-JSON-general" if "signatures" in doc else "JWS-JSON-flattened"
        if not isinstance(raw, list) or not raw:
            raise JwsFormatError("JWS JSON 'signatures' must be a non-empty list")
        payload_b64 = doc.get("payload", "")  # absent: detached content (RFC 7515 Appendix F, RFC 7520 §4.5)
        if not isinstance(payload_b64, str):
            raise JwsFormatError("JWS JSON 'payload' must be a base64url string")
        for item in raw:
            if not isinstance(item, dict) or "signature" not in item:
                raise JwsFormatError("each JWS JSON signature needs a 'signature' member")
            protected_b64, signature_b64 = item.get("protected", ""), item["signature"]
            unprotected = item.get("header") or {}
            if not isinstance(protected_b64, str) or not isinstance(signature_b64, str):
                raise JwsFormatError("JWS JSON 'protected' and 'signature' must be base64url strings")
            if not isinstance(unprotected, dict):
                raise JwsFormatError("JWS JSON 'header' must be a JSON object")
            members.append(_Member(protected_b64, signature_b64, _header(protected_b64), dict(unprotected)))
        return kind, payload_b64, members
    parts = text.split(".")
    if len(parts) != 3:
        raise JwsFormatError("a compact JWS has exactly three dot-separated parts")
    members.append(_Member(parts[0], parts[2], _header(parts[0]), {}))
    return "JWS-compact", parts[1], members


#: Decoded protected headers by their base64url text: a sender repeats its header (alg, kid, an x5c chain of
#: a few KB) on every message, and decoding plus JSON-parsing it costs more than the rest of the report.
_HEADERS: dict[str, dict[str, Any]] = {}
_HEADER_CACHE_ENTRIES = 256
_HEADER_CACHE_MAX_CHARS = 64 * 1024


def _header(protected_b64: str) -> dict[str, Any]:
    """The protected header as a dict (a fresh one per call: callers may not share what they change)."""
    if not protected_b64:
        return {}
    hit = _HEADERS.get(protected_b64)
    if hit is not None:
        return dict(hit)
    header = _decode_header(protected_b64)
    if len(protected_b64) <= _HEADER_CACHE_MAX_CHARS:
        if len(_HEADERS) >= _HEADER_CACHE_ENTRIES:
            _HEADERS.clear()
        _HEADERS[protected_b64] = header
    return dict(header)


def _decode_header(protected_b64: str) -> dict[str, Any]:
    try:
        header = json.loads(_b64url(protected_b64))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise JwsFormatError(f"protected header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise JwsFormatError("protected header must be a JSON object")
    return header


def _family(key: PublicKey) -> tuple[str, int | None]:
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"ec:{key.curve.key_size}", key.curve.key_size
    return "okp", None


def _joserfc_key(key: PublicKey) -> Any:
    pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if isinstance(key, rsa.RSAPublicKey):
        return RSAKey.import_key(pem)
    if isinstance(key, ec.EllipticCurvePublicKey):
        return ECKey.import_key(pem)
    return OKPKey.import_key(pem)


class JwsVerifier:
    """Verifies every signature of a JWS; keys from ``x5c`` (validated) or from ``key_lookup``."""

    def __init__(self, validator: ChainValidator, key_lookup: KeyLookup | None = None) -> None:
        self.validator = validator
        self.policy = validator.policy
        self.key_lookup = key_lookup
        self._registries: dict[str, jws.JWSRegistry] = {}
        self._x5c_cache: dict[tuple[str, ...], tuple[PublicKey, asn1_x509.Certificate, Any,
                                                     tuple[asn1_x509.Certificate, ...]]] = {}

    def verify(self, data: bytes, detached: Mapping[str, bytes] | None = None) -> list[SignatureReport]:
        """``detached``: the payload of a JWS with detached content (RFC 7515 Appendix F: empty payload part)."""
        kind, payload_b64, members = parse(data)
        problem = over(len(members), MAX_SIGNATURES, "JWS signatures")
        if problem:
            raise JwsFormatError(problem)
        if payload_b64 == "" and detached:
            payloads = set(detached.values())  # the CLI files one document under its path and its file name
            if len(payloads) != 1:
                raise JwsFormatError("a JWS has one payload: supply exactly one detached document")
            payload = payloads.pop()
            payload_b64 = base64.urlsafe_b64encode(payload).rstrip(b"=").decode("ascii")
        elif payload_b64 == "":
            return [SignatureReport(id=f"jws-signature-{index}", format=kind).fail(
                Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND,
                "the JWS payload is detached (empty) and the signed content was not supplied "
                "(pass it with --detached FILE / the 'detached' form field)") for index in range(1, len(members) + 1)]
        else:
            payload = _b64url(payload_b64)
        reports = []
        for index, member in enumerate(members, 1):
            try:
                reports.append(self._verify_member(kind, index, payload_b64, payload, member))
            except Exception as exc:  # a verdict for every input (issue 12)
                reports.append(fail_with(SignatureReport(id=f"jws-signature-{index}", format=kind), exc))
        return reports

    def _verify_member(self, kind: str, index: int, payload_b64: str, payload: bytes,
                       member: _Member) -> SignatureReport:
        report = SignatureReport(id=f"jws-signature-{index}", format=kind)
        alg = member.protected.get("alg")
        if "alg" in member.unprotected:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               "'alg' must be in the protected header, not the unprotected one")
        if not isinstance(alg, str) or alg.lower() == "none":
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               f"alg {alg!r} is not a signature algorithm (unsigned JWS refused)")
        if "crit" in member.unprotected or "b64" in member.unprotected:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               "'crit' / 'b64' must be integrity protected (RFC 7515 §4.1.11, RFC 7797 §3), "
                               "not in the unprotected header")
        if member.protected.get("b64") is False or member.protected.get("crit"):
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE,
                               "critical header parameters / unencoded payload (RFC 7797) are not supported")
        report.covered.append(CoveredPart(f"JWS payload ({len(payload)} bytes)",
                                          hashlib.sha256(payload).hexdigest(), len(payload)))
        report.covered.append(CoveredPart("JWS protected header: " + ", ".join(sorted(member.protected))))
        if member.unprotected:
            report.not_covered.append("JWS unprotected header: " + ", ".join(sorted(member.unprotected)))
        self._claimed_time(report, member.protected, payload)
        public_key, key, chain = self._key(report, member.protected)
        if public_key is None:
            return report
        family, size = _family(public_key)
        report.algorithms.append(AlgorithmUse("key", family.split(":")[0] if family != "okp" else "eddsa", size))
        expected = ALGORITHMS.get(alg)
        if expected is None or expected[0] != family:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                               f"alg {alg} does not fit the signer's {family} key (algorithm confusion refused)")
        report.algorithms.append(AlgorithmUse("signature", expected[1]))
        now = datetime.now(UTC)
        for use in report.algorithms:
            use.weak = self.policy.is_weak(use.name, now, use.key_size)
            if use.weak:
                holder = ChainResult()
                msg = f"{use.role} algorithm {use.name} is weak under policy {self.policy.label}"
                apply_level(holder, self.policy, Check.WEAK_ALGORITHM, Indication.INDETERMINATE,
                            SubIndication.CRYPTO_CONSTRAINTS_FAILURE_NO_POE, msg)
                if holder.sub_indication is not None:
                    report.fail(holder.indication, holder.sub_indication, msg)
                report.warnings += holder.warnings
        if chain is not None and chain.chain:
            check_claimed_time(report, self.policy, chain.chain[0].not_before, chain.chain[0].not_after)
        if chain is not None:
            report.chain, report.revocation = chain.chain, chain.revocation
            report.signer = chain.chain[0] if chain.chain else None
            report.warnings += chain.warnings
            report.infos += chain.infos
            if not chain.ok and chain.sub_indication is not None:
                report.fail(chain.indication, chain.sub_indication, chain.message)
        # The header and payload are already parsed and checked above, so call joserfc's algorithm directly
        # on the RFC 7515 signing input instead of letting it parse the token a second time.
        signing_input = f"{member.protected_b64}.{payload_b64}".encode("ascii")
        try:
            model = self._registry(alg).get_alg(alg)
            model.check_key(key)
            valid = model.verify(signing_input, _b64url(member.signature_b64), key)
        except (JoseError, ValueError, UnicodeEncodeError) as exc:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"malformed JWS: {exc}")
        if not valid:
            return report.fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE,
                               "JWS signature does not verify with the signer's key")
        report.signed_content = payload
        report.infos.append("cryptographically intact: the JWS signature verifies with the signer's key")
        if not report.failed:
            report.indication, report.sub_indication = Indication.TOTAL_PASSED, None
        return report

    def _registry(self, alg: str) -> jws.JWSRegistry:
        """One registry per algorithm: only that ``alg`` allowed; headers big enough for real x5c chains."""
        registry = self._registries.get(alg)
        if registry is None:
            registry = jws.JWSRegistry(algorithms=[alg], strict_check_header=False)
            registry.max_header_length = 256 * 1024
            registry.max_payload_length = self.policy.max_document_bytes
            registry.max_signature_length = 16 * 1024
            self._registries[alg] = registry
        return registry

    def _key(self, report: SignatureReport,
             header: dict[str, Any]) -> tuple[PublicKey | None, Any, ChainResult | None]:
        """(public key, joserfc key, chain result); (None, None, None) after recording why none is usable."""
        x5c = header.get("x5c")
        if x5c is not None:
            if not isinstance(x5c, list) or not x5c or not all(isinstance(c, str) for c in x5c):
                report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, "x5c must be a list of strings")
                return None, None, None
            problem = over(len(x5c), MAX_CERTIFICATES, "certificates in one x5c header")
            if problem:
                report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, problem)
                return None, None, None
            try:
                public_key, asn1_leaf, key, intermediates = self._from_x5c(tuple(x5c))
            except (ValueError, binascii.Error) as exc:
                report.fail(Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE, f"x5c is not decodable: {exc}")
                return None, None, None
            return public_key, key, self.validator.validate(asn1_leaf, intermediates)
        if "jwk" in header:
            report.warnings.append("embedded 'jwk' header ignored: a key carried by the message proves nothing")
        if self.key_lookup is not None:
            found = self.key_lookup(header)
            if found is not None and not isinstance(found, _SUPPORTED_KEYS):
                report.fail(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                            f"registered key of type {type(found).__name__} cannot verify a JWS")
                return None, None, None
            if isinstance(found, _SUPPORTED_KEYS):
                report.infos.append(f"key from the caller's key lookup (kid={header.get('kid')!r}); trust comes "
                                    "from the registration, no certificate chain applies")
                return found, _joserfc_key(found), None
        alg = header.get("alg")
        hmac = isinstance(alg, str) and alg.upper().startswith("HS")  # RFC 7518 §3.2: a MAC, no signer to name
        report.fail(Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND,
                    f"alg {alg} is an HMAC (a shared-secret code, not a public-key signature): refused, it names no "
                    f"signer and lgsp holds no shared secrets (kid={header.get('kid')!r})" if hmac else
                    f"no x5c chain and no registered key for this JWS (kid={header.get('kid')!r}); the signer "
                    "cannot be identified")
        return None, None, None

    def _from_x5c(self, x5c: tuple[str, ...]) -> tuple[PublicKey, asn1_x509.Certificate, Any,
                                                        tuple[asn1_x509.Certificate, ...]]:
        """Decoded x5c (signer's public key, its certificate, joserfc key, intermediates), cached per chain:
        senders repeat, and cryptography builds a new key object on every ``public_key()`` call."""
        hit = self._x5c_cache.get(x5c)
        if hit is None:
            der = base64.b64decode(x5c[0], validate=True)
            cert = x509.load_der_x509_certificate(der)
            key = cert.public_key()
            if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                              | ed448.Ed448PublicKey):
                raise ValueError(f"unsupported key type {type(key).__name__}")
            intermediates = tuple(load_certificate(base64.b64decode(c, validate=True)) for c in x5c[1:])
            hit = (key, load_certificate(der), _joserfc_key(key), intermediates)
            if len(self._x5c_cache) > 1024:
                self._x5c_cache.clear()
            self._x5c_cache[x5c] = hit
        return hit

    @staticmethod
    def _claimed_time(report: SignatureReport, header: dict[str, Any], payload: bytes) -> None:
        value: Any = header.get("iat")
        if value is None and payload[:1] == b"{" and b'"iat"' in payload:
            try:
                claims = json.loads(payload)
                value = claims.get("iat") if isinstance(claims, dict) else None
            except (json.JSONDecodeError, UnicodeDecodeError):
                value = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            try:
                report.claimed_signing_time = datetime.fromtimestamp(value, UTC)
            except (OverflowError, ValueError, OSError):  # 1e20, NaN, ...: a claim, not a reason to fail
                report.warnings.append(f"'iat' {value!r} is not a representable time; no claimed signing time")
