"""Signature verification throughput: lgsp's full verification vs the bare library call.

For each format the baseline is the library alone with everything pre-supplied (signxml with the
certificate pinned; pyhanko with trust roots and the CRLs already in hand; joserfc with the key already
imported) — the ceiling. lgsp adds chain building, revocation, policy and the report; with its chain and
revocation caches warm it should stay close to that ceiling. A naive XML run that validates the chain and
fetches revocation on every call shows what the cache buys.

Run: ``.venv/bin/python bench/signing.py [--seconds 1.5]``. The last line is JSON; ``ratio`` is the
headline: lgsp XML verifications per second / pinned-certificate signxml verifications per second.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the package it measures; drop bench/ from the path so `import signing` finds
# the package, not this script.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402
import urllib.request  # noqa: E402
from collections.abc import Callable  # noqa: E402

from cryptography.hazmat.primitives import serialization  # noqa: E402
from joserfc import jws  # noqa: E402
from joserfc.jwk import ECKey  # noqa: E402
from pyhanko.pdf_utils.reader import PdfFileReader  # noqa: E402
from pyhanko.sign.validation import validate_pdf_signature  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402
from signxml import SignatureConfiguration, XMLVerifier  # noqa: E402

from lgsp.testing.servers import start_server  # noqa: E402
from signing import Policy, TrustStore, Verifier  # noqa: E402
from signing.testing import RevocationResponder, build_pki, edxml_document, minimal_pdf, sign_jws, sign_pdf, sign_xml  # noqa: E402


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per CPU-second of ``fn`` over about ``seconds`` of CPU time (after one warm-up call).

    CPU time, not wall time: the benchmark often shares the machine with test runs, and waiting for a
    core says nothing about the code. Everything measured runs on this thread (the responder is idle).
    """
    fn()
    count, start = 0, time.process_time()
    while (elapsed := time.process_time() - start) < seconds:
        fn()
        count += 1
    return count / elapsed


def compare(baseline: Callable[[], object], candidate: Callable[[], object], seconds: float,
            rounds: int = 3) -> tuple[float, float]:
    """Best rate of each over interleaved rounds, so a burst of outside load hits both sides alike."""
    best_base = best_cand = 0.0
    for _ in range(rounds):
        best_base = max(best_base, rate(baseline, seconds / rounds))
        best_cand = max(best_cand, rate(candidate, seconds / rounds))
    return best_base, best_cand


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.5, help="time per measurement")
    args = parser.parse_args()

    responder = RevocationResponder()
    server = start_server(responder)
    pki = build_pki(server.url)
    responder.pki = pki
    trust = TrustStore.from_pem(pki.root_pem)
    verifier = Verifier(trust, Policy())

    # XML: ~20 KB edXML, RSA-2048 / SHA-256, chain root -> intermediate -> signer, OCSP + CRL.
    xml = sign_xml(edxml_document(filler_bytes=18_000), pki.good)
    assert verifier.verify(xml).passed
    pinned = SignatureConfiguration(expect_references=True)
    xml_base, xml_lgsp = compare(
        lambda: XMLVerifier().verify(xml, x509_cert=pki.good.cert, expect_config=pinned),
        lambda: verifier.verify(xml), args.seconds)

    def naive() -> None:  # fresh caches: chain building + OCSP/CRL over HTTP on every call
        assert Verifier(trust, Policy()).verify(xml).passed

    xml_naive_start = time.perf_counter()  # wall time here: the naive path waits on the network
    naive_calls = 20
    for _ in range(naive_calls):
        naive()
    xml_naive = naive_calls / (time.perf_counter() - xml_naive_start)

    # PDF: one signature, CRLs cached (lgsp: its revocation cache; baseline: CRLs handed to pyhanko).
    pdf = sign_pdf(minimal_pdf(), pki.good)
    assert verifier.verify(pdf).passed
    crls = [urllib.request.urlopen(f"{server.url}/crl/{name}.crl").read() for name in ("root", "intermediate")]
    inter = pki.intermediate.asn1_cert

    def bare_pdf() -> None:
        sig = PdfFileReader(io.BytesIO(pdf)).embedded_signatures[0]
        context = ValidationContext(trust_roots=[pki.root.asn1_cert], other_certs=[inter], crls=crls,
                                    allow_fetching=False, revocation_mode="hard-fail")
        assert validate_pdf_signature(sig, signer_validation_context=context).bottom_line

    pdf_base, pdf_lgsp = compare(bare_pdf, lambda: verifier.verify(pdf), args.seconds)

    # JWS: ES256 compact with x5c.
    token = sign_jws(b'{"iss": "000.00.12.H10/MOTCUA", "hoSo": "H10.1-0001"}', pki.ec)
    public = ECKey.import_key(pki.ec.cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    registry = jws.JWSRegistry(algorithms=["ES256"])
    registry.max_header_length = 64 * 1024
    token_bytes = token.encode()
    assert verifier.verify(token_bytes).passed
    jws_base, jws_lgsp = compare(lambda: jws.deserialize_compact(token, public, registry=registry),
                                 lambda: verifier.verify(token_bytes), args.seconds)
    server.stop()

    rows = [
        ("XML ~20 KB, pinned signxml", xml_base, None),
        ("XML lgsp, chain cached", xml_lgsp, xml_lgsp / xml_base),
        ("XML lgsp, naive (no caches, wall)", xml_naive, xml_naive / xml_base),
        ("PDF bare pyhanko, CRLs given", pdf_base, None),
        ("PDF lgsp, CRL cached", pdf_lgsp, pdf_lgsp / pdf_base),
        ("JWS ES256 bare joserfc", jws_base, None),
        ("JWS lgsp, x5c chain cached", jws_lgsp, jws_lgsp / jws_base),
    ]
    print(f"{'case':34} {'per CPU-second':>16} {'vs baseline':>12}")
    for name, value, ratio in rows:
        print(f"{name:34} {value:16.1f} {'' if ratio is None else f'{ratio:11.2f}x':>12}")
    print(json.dumps({
        "ratio": round(xml_lgsp / xml_base, 3),
        "xml_per_s": round(xml_lgsp, 1), "xml_pinned_signxml_per_s": round(xml_base, 1),
        "xml_naive_per_s": round(xml_naive, 1), "xml_naive_ratio": round(xml_naive / xml_base, 3),
        "xml_bytes": len(xml),
        "pdf_per_s": round(pdf_lgsp, 1), "pdf_bare_pyhanko_per_s": round(pdf_base, 1),
        "pdf_ratio": round(pdf_lgsp / pdf_base, 3),
        "jws_per_s": round(jws_lgsp, 1), "jws_bare_joserfc_per_s": round(jws_base, 1),
        "jws_ratio": round(jws_lgsp / jws_base, 3),
    }))


if __name__ == "__main__":
    main()
