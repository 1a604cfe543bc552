"""JWS: compact and JSON, x5c chains, registry key lookup, alg none and algorithm confusion."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization

from signing import Policy, TrustStore, Verifier
from signing.report import Indication, SubIndication
from signing.testing import TestPki, sign_jws

PAYLOAD = json.dumps({"iss": "000.00.12.H10/MOTCUA", "iat": 1795000000, "hoSo": "H10.1-0001"}).encode()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _verdict(report):
    return report.indication, report.sub_indication


def _x5c(pki: TestPki, who: str = "good") -> list[str]:
    return [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in getattr(pki, who).chain]


def test_compact_es256_with_x5c_passes(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(sign_jws(PAYLOAD, pki.ec).encode())
    assert _verdict(report) == (Indication.TOTAL_PASSED, None), report.render_text()
    sig = report.signatures[0]
    assert sig.format == "JWS-compact"
    assert sig.signer and "He Thong QLVB" in sig.signer.subject
    assert sig.signed_content == PAYLOAD
    assert sig.covered[0].sha256 == hashlib.sha256(PAYLOAD).hexdigest()
    assert sig.claimed_signing_time is not None and int(sig.claimed_signing_time.timestamp()) == 1795000000
    assert any(ev.kind == "OCSP" and ev.status == "good" for ev in sig.revocation)


def test_json_general_serialisation_reports_each_signature(verifier: Verifier, pki: TestPki) -> None:
    one = json.loads(sign_jws(PAYLOAD, pki.good, json_form=True))
    two = json.loads(sign_jws(PAYLOAD, pki.revoked, json_form=True))
    general = {"payload": one["payload"], "signatures": one["signatures"] + two["signatures"]}
    report = verifier.verify(json.dumps(general).encode(), "application/jose+json")
    assert [s.indication for s in report.signatures] == [Indication.TOTAL_PASSED, Indication.INDETERMINATE]
    assert report.signatures[1].sub_indication is SubIndication.REVOKED_NO_POE
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE)


def test_flattened_json_with_unprotected_header_reports_it_uncovered(verifier: Verifier, pki: TestPki) -> None:
    general = json.loads(sign_jws(PAYLOAD, pki.good, json_form=True))
    flat = {"payload": general["payload"], **general["signatures"][0], "header": {"note": "added in transit"}}
    report = verifier.verify(json.dumps(flat).encode())
    assert report.passed
    assert report.signatures[0].not_covered == ["JWS unprotected header: note"]


def test_tampered_payload_is_crypto_failure(verifier: Verifier, pki: TestPki) -> None:
    header, _, signature = sign_jws(PAYLOAD, pki.ec).split(".")
    forged = f"{header}.{_b64(PAYLOAD.replace(b'0001', b'9999'))}.{signature}"
    assert _verdict(verifier.verify(forged.encode())) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


@pytest.mark.parametrize("alg", ["none", "None", "NONE"])
def test_alg_none_is_refused(verifier: Verifier, pki: TestPki, alg: str) -> None:
    token = f"{_b64(json.dumps({'alg': alg, 'x5c': _x5c(pki)}).encode())}.{_b64(PAYLOAD)}."
    report = verifier.verify(token.encode())
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "unsigned JWS refused" in report.signatures[0].errors[0]


def test_hmac_with_the_public_key_as_secret_is_refused(verifier: Verifier, pki: TestPki) -> None:
    # Classic confusion: the attacker signs HS256 using the signer's *public* key bytes as the secret.
    header = _b64(json.dumps({"alg": "HS256", "x5c": _x5c(pki)}).encode())
    body = _b64(PAYLOAD)
    secret = pki.good.cert.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
    mac = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    report = verifier.verify(f"{header}.{body}.{_b64(mac)}".encode())
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)
    assert "algorithm confusion" in report.signatures[0].errors[0]


def test_rsa_alg_on_an_ec_key_is_refused(verifier: Verifier, pki: TestPki) -> None:
    token = sign_jws(PAYLOAD, pki.ec)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    header["alg"] = "RS256"
    swapped = ".".join([_b64(json.dumps(header).encode()), *token.split(".")[1:]])
    assert _verdict(verifier.verify(swapped.encode())) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


@pytest.mark.parametrize(("who", "sub"), [("revoked", SubIndication.REVOKED_NO_POE),
                                          ("expired", SubIndication.OUT_OF_BOUNDS_NO_POE),
                                          ("untrusted", SubIndication.NO_CERTIFICATE_CHAIN_FOUND)])
def test_bad_x5c_signers(verifier: Verifier, pki: TestPki, who: str, sub: SubIndication) -> None:
    report = verifier.verify(sign_jws(PAYLOAD, getattr(pki, who)).encode())
    assert _verdict(report) == (Indication.INDETERMINATE, sub)


def test_registry_key_lookup_by_kid(trust: TrustStore, pki: TestPki) -> None:
    registered = {"motcua-2026": pki.ec.cert.public_key()}
    verifier = Verifier(trust, Policy(), key_lookup=lambda header: registered.get(str(header.get("kid"))))
    token = sign_jws(PAYLOAD, pki.ec, x5c=False, kid="motcua-2026")
    report = verifier.verify(token.encode())
    assert report.passed, report.render_text()
    assert report.signatures[0].chain == [] and "key lookup" in report.signatures[0].infos[0]
    other = sign_jws(PAYLOAD, pki.good, x5c=False, kid="unknown")
    assert _verdict(verifier.verify(other.encode())) == (Indication.INDETERMINATE,
                                                          SubIndication.NO_SIGNING_CERTIFICATE_FOUND)


def test_embedded_jwk_is_never_trusted(verifier: Verifier, pki: TestPki) -> None:
    from joserfc import jws
    from joserfc.jwk import ECKey

    key = ECKey.import_key(pki.ec.key_pem)
    token = jws.serialize_compact({"alg": "ES256", "jwk": key.as_dict(private=False)}, PAYLOAD, key)
    report = verifier.verify(token.encode())
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.NO_SIGNING_CERTIFICATE_FOUND)
    assert any("jwk" in w for w in report.signatures[0].warnings)


@pytest.mark.parametrize("token", [b"a.b", b"!!!.###.$$$", b'{"payload": "x"}', b"eyJhbGciOiJFUzI1NiJ9.e30"])
def test_malformed_jws_is_format_failure(verifier: Verifier, token: bytes) -> None:
    report = verifier.verify(token, "application/jose")
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_claimed_iat_outside_validity_is_flagged(verifier: Verifier, pki: TestPki) -> None:
    # 2000-01-01 is long before the signer certificate's validity: warned (default level), not failed
    old = json.dumps({"iat": 946684800}).encode()
    report = verifier.verify(sign_jws(old, pki.ec).encode())
    assert report.passed
    assert any("claimed signing time" in w for w in report.signatures[0].warnings)


def test_a_repeated_protected_header_is_decoded_once_and_handed_out_fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    from signing import jws as signing_jws

    decoded: list[str] = []
    real = signing_jws._decode_header

    def counting(protected_b64: str) -> dict[str, object]:
        decoded.append(protected_b64)
        return real(protected_b64)

    monkeypatch.setattr(signing_jws, "_decode_header", counting)
    monkeypatch.setattr(signing_jws, "_HEADERS", {})
    protected = base64.urlsafe_b64encode(b'{"alg": "ES256", "kid": "k1"}').rstrip(b"=").decode()
    first = signing_jws._header(protected)
    first["alg"] = "none"  # a caller changing its copy changes nobody else's
    second = signing_jws._header(protected)
    assert second == {"alg": "ES256", "kid": "k1"} and second is not first
    assert decoded == [protected]
    bad = base64.urlsafe_b64encode(b"[1]").rstrip(b"=").decode()
    for _ in range(2):
        with pytest.raises(signing_jws.JwsFormatError):
            signing_jws._header(bad)
    assert decoded == [protected, bad, bad]  # a refused header is never cached
