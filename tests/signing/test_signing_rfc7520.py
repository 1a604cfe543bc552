"""JWS against the published examples of RFC 7520 §4, not against tokens lgsp signed itself.

A verifier tested only with its own signer can agree with itself on a mistake (a base64url variant, the
signing input, the ECDSA signature encoding). The RFC's examples were produced by other implementations,
so they check the verifier against the world. The values below are the RFC's figures: the public halves
of its keys (Figure 1, P-521; Figure 3, RSA; kid ``bilbo.baggins@hobbiton.example``), the payload
(Figure 7/8) and the outputs of §4.1 (RS256), §4.2 (PS384), §4.3 (ES512), §4.5 (detached content, the
§4.1 signature with the payload left out) and §4.8 (three signatures in the general JSON serialisation).

lgsp's policy differs from what the RFC merely allows in two named ways, and the tests pin both:
``alg`` must be integrity protected (ETSI JAdES asks the same; §4.7 and §4.8's second signature carry it
in the unprotected header), and HMAC (§4.4, §4.8's third) is not a signature anyone else can check.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from joserfc.jwk import ECKey, RSAKey

from signing import Policy, TrustStore, Verifier
from signing.report import Indication, SubIndication

KID = "bilbo.baggins@hobbiton.example"

RSA_PUBLIC = {  # RFC 7520 Figure 3 (public part)
    "kty": "RSA",
    "n": "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKr"
         "Kb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5l"
         "FHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__"
         "kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
    "e": "AQAB",
}
EC_PUBLIC = {  # RFC 7520 Figure 1 (public part)
    "kty": "EC",
    "crv": "P-521",
    "x": "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
    "y": "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1",
}

PAYLOAD = ("It\u2019s a dangerous business, Frodo, going out your door. You step onto the road, and if you don't "
           "keep your feet, there\u2019s no knowing where you might be swept off to.").encode()
PAYLOAD_B64 = ("SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUg"
               "cm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0"
               "IGJlIHN3ZXB0IG9mZiB0by4")

RS256_HEADER = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
RS256_SIGNATURE = (  # §4.1.3, Figure 15
    "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDk"
    "oBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9Uzp"
    "ERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogo"
    "ree7vjbU5y18kDquDg")
PS384_HEADER = "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
PS384_SIGNATURE = (  # §4.2.3, Figure 22
    "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OL"
    "PpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9sh"
    "nr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ"
    "6oD4ifKo8DYM-X72Eaw")
ES512_HEADER = "eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9"
ES512_SIGNATURE = (  # §4.3.3, Figure 29 (R || S, 2 x 66 bytes, not DER)
    "AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnA"
    "MDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2")

GENERAL_48 = {  # §4.8.4, Figure 61: RS256 (alg protected, kid not), ES512 (all unprotected), HS256
    "payload": PAYLOAD_B64,
    "signatures": [
        {"protected": "eyJhbGciOiJSUzI1NiJ9", "header": {"kid": KID}, "signature": (
            "MIsjqtVlOpa71KE-Mss8_Nq2YH4FGhiocsqrgi5NvyG53uoimic1tcMdSg-qptrzZc7CG6Svw2Y13TDIqHzTUrL_lR2ZFcryNFiH"
            "kSw129EghGpwkpxaTn_THJTCglNbADko1MZBCdwzJxwqZc-1RlpO2HibUYyXSwO97BSe0_evZKdjvvKSgsIqjytKSeAMbhMBdMm"
            "a622_BG5t4sdbuCHtFjp9iJmkio47AIwqkZV1aIZsv33uPUqBBCXbYoQJwt7mxPftHmNlGoOSMxR_3thmXTCm4US-xiNOyhbm8af"
            "KK64jU6_TPtQHiJeQJxz9G3Tx-083B745_AfYOnlC9w")},
        {"header": {"alg": "ES512", "kid": KID}, "signature": (
            "ARcVLnaJJaUWG8fG-8t5BREVAuTY8n8YHjwDO1muhcdCoFZFFjfISu0Cdkn9Ybdlmi54ho0x924DUz8sK7ZXkhc7AFM8ObLfTvNC"
            "rqcI3Jkl2U5IX3utNhODH6v7xgy1Qahsn0fyb4zSAkje8bAWz4vIfj5pCMYxxm4fgV3q7ZYhm5eD")},
        {"protected": "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9",
         "signature": "s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0"},
    ],
}

_KEYS = {"RSA": RSAKey.import_key(RSA_PUBLIC).public_key, "EC": ECKey.import_key(EC_PUBLIC).public_key}


def _registered_key(header: dict[str, Any]) -> object | None:
    """The RFC's signer registered under its kid, as the registry would hold a department system's keys.
    The RFC gives one kid to both of bilbo's keys, so the family of ``alg`` picks which one (§4.8's first
    signature has its kid in the unprotected header, so a protected-only lookup sees no kid there)."""
    if header.get("kid") not in (KID, None):
        return None
    alg = str(header.get("alg", ""))
    return _KEYS["EC"] if alg.startswith("ES") else _KEYS["RSA"]


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier(TrustStore([]), Policy(), key_lookup=_registered_key)


@pytest.mark.parametrize(("section", "header", "signature"), [
    ("4.1 RS256", RS256_HEADER, RS256_SIGNATURE),
    ("4.2 PS384", PS384_HEADER, PS384_SIGNATURE),
    ("4.3 ES512", ES512_HEADER, ES512_SIGNATURE),
])
def test_the_rfc_examples_verify(verifier: Verifier, section: str, header: str, signature: str) -> None:
    report = verifier.verify(f"{header}.{PAYLOAD_B64}.{signature}".encode())
    assert (report.indication, report.sub_indication) == (Indication.TOTAL_PASSED, None), report.render_text()
    assert report.signatures[0].signed_content == PAYLOAD


@pytest.mark.parametrize(("header", "signature"), [(RS256_HEADER, RS256_SIGNATURE), (ES512_HEADER, ES512_SIGNATURE)])
def test_the_rfc_examples_with_one_changed_byte_fail(verifier: Verifier, header: str, signature: str) -> None:
    altered_b64 = base64.urlsafe_b64encode(PAYLOAD.replace(b"Frodo", b"Frodi")).rstrip(b"=").decode()
    report = verifier.verify(f"{header}.{altered_b64}.{signature}".encode())
    assert report.indication is Indication.TOTAL_FAILED
    assert report.signatures[0].sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_detached_content_as_in_section_4_5(verifier: Verifier) -> None:
    """§4.5: the §4.1 signature with an empty payload part; the content travels separately."""
    token = f"{RS256_HEADER}..{RS256_SIGNATURE}".encode()
    missing = verifier.verify(token)
    assert missing.signatures[0].sub_indication is SubIndication.SIGNED_DATA_NOT_FOUND
    supplied = verifier.verify(token, detached={"payload.txt": PAYLOAD})
    assert supplied.passed, supplied.render_text()
    wrong = verifier.verify(token, detached={"payload.txt": PAYLOAD + b" "})
    assert wrong.signatures[0].sub_indication is SubIndication.SIG_CRYPTO_FAILURE


def test_general_serialisation_of_section_4_8_judges_each_signature(verifier: Verifier) -> None:
    report = verifier.verify(json.dumps(GENERAL_48).encode(), "application/jose+json")
    first, second, third = report.signatures
    assert (first.indication, first.sub_indication) == (Indication.TOTAL_PASSED, None), report.render_text()
    assert first.not_covered == ["JWS unprotected header: kid"]
    # lgsp's policy: an alg outside the protected header could be swapped in transit
    assert (second.indication, second.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    # HS256 under an unknown kid: no registered signer, so no verdict on the MAC at all
    assert third.indication is not Indication.TOTAL_PASSED
    assert report.indication is not Indication.TOTAL_PASSED
