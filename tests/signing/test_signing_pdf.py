"""PDF signatures: incremental double signing, timestamps, coverage, bad signers, broken files."""

from __future__ import annotations

import datetime as dt

import pytest

from signing import Verifier
from signing.report import Indication, SubIndication
from signing.testing import TestPki, minimal_pdf, sign_pdf


@pytest.fixture(scope="module")
def pdf() -> bytes:
    return minimal_pdf()


def _verdict(report):
    return report.indication, report.sub_indication


def test_single_signature_passes_with_chain_revocation_and_coverage(verifier: Verifier, pki: TestPki,
                                                                     pdf: bytes) -> None:
    signed = sign_pdf(pdf, pki.good)
    report = verifier.verify(signed, "application/pdf")
    assert _verdict(report) == (Indication.TOTAL_PASSED, None), report.render_text()
    sig = report.signatures[0]
    assert sig.id == "pdf:Signature1"
    assert len(sig.chain) == 3 and "LGSP Test Root CA" in sig.chain[-1].subject
    assert {ev.kind for ev in sig.revocation} == {"OCSP", "CRL"}
    assert "revision 2 of 2" in sig.covered[0].description
    assert "signature covers the entire file" in sig.infos
    assert sig.claimed_signing_time is not None and sig.proven_signing_time is None
    assert sig.signed_content == signed  # the whole file is the signed revision


def test_two_signatures_as_incremental_updates(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    person = sign_pdf(pdf, pki.good, field_name="NguoiKy")
    both = sign_pdf(person, pki.ec, field_name="CoQuan", tsa=pki.tsa)
    report = verifier.verify(both)
    assert report.passed, report.render_text()
    first, second = report.signatures
    assert (first.id, second.id) == ("pdf:NguoiKy", "pdf:CoQuan")
    assert "revision 2 of 3" in first.covered[0].description
    assert first.not_covered and "FORM_FILLING" in first.not_covered[0]  # only a signature was added later
    assert first.signed_content == person
    assert "revision 3 of 3" in second.covered[0].description and not second.not_covered
    assert second.proven_signing_time is not None
    assert second.timestamps[0].kind == "signature-timestamp" and second.timestamps[0].trusted
    assert any(a.name == "ecdsa" and a.key_size == 256 for a in second.algorithms)


@pytest.mark.parametrize(("who", "indication", "sub"), [
    ("revoked", Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE),
    ("expired", Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE),
    ("untrusted", Indication.INDETERMINATE, SubIndication.NO_CERTIFICATE_CHAIN_FOUND),
    ("wrong_key_usage", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
    ("weak_key", Indication.INDETERMINATE, SubIndication.CRYPTO_CONSTRAINTS_FAILURE),
])
def test_bad_signers(verifier: Verifier, pki: TestPki, pdf: bytes, who: str, indication, sub) -> None:
    report = verifier.verify(sign_pdf(pdf, getattr(pki, who)))
    assert _verdict(report) == (indication, sub), report.render_text()


def test_signer_expired_before_the_timestamp_fails_outright(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    # The timestamp proves the signature was made after the certificate's end of validity.
    report = verifier.verify(sign_pdf(pdf, pki.expired, tsa=pki.tsa))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.EXPIRED)
    assert any("before the proven signing time" in e for e in report.signatures[0].errors)


def test_timestamp_inside_validity_is_the_proven_time(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    report = verifier.verify(sign_pdf(pdf, pki.good, tsa=pki.tsa, timestamp_at=at))
    assert report.passed, report.render_text()
    assert report.signatures[0].proven_signing_time == at


def test_tampered_signed_bytes_are_hash_failure(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    signed = sign_pdf(pdf, pki.good)
    at = signed.index(b"Quyet dinh")
    report = verifier.verify(signed[:at] + b"Quyet DINH" + signed[at + 10:])
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE)


def test_truncated_pdf_is_format_failure(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    signed = sign_pdf(pdf, pki.good)
    report = verifier.verify(signed[: len(signed) // 2], "application/pdf")
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert report.errors[0].startswith("not a readable PDF")


@pytest.mark.parametrize("garbage", [b"%PDF-1.7\n" + b"\x00garbage" * 100, b"\x89PNG\r\n\x1a\n" + bytes(200)])
def test_garbage_is_format_failure(verifier: Verifier, garbage: bytes) -> None:
    report = verifier.verify(garbage)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)


def test_unsigned_pdf_has_no_signature(verifier: Verifier, pdf: bytes) -> None:
    assert _verdict(verifier.verify(pdf)) == (Indication.INDETERMINATE, SubIndication.NO_SIGNATURE_FOUND)


def test_claimed_signing_time_outside_validity_is_flagged(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    report = verifier.verify(sign_pdf(pdf, pki.expired))
    assert any("claimed signing time" in w for w in report.signatures[0].warnings)


def test_document_timestamp_is_reported_as_its_own_signature(verifier: Verifier, pki: TestPki, pdf: bytes) -> None:
    from signing.testing import timestamp_pdf

    stamped = timestamp_pdf(sign_pdf(pdf, pki.good), pki.tsa)
    report = verifier.verify(stamped)
    assert report.passed, report.render_text()
    signature, archive = report.signatures
    assert archive.format == "PDF document timestamp" and archive.id == "pdf:LuuTru"
    assert archive.proven_signing_time is not None and archive.timestamps[0].trusted
    assert signature.not_covered  # the timestamp revision came after the signature


def test_revocation_down_is_try_later_or_soft_fail(trust, pki: TestPki, pdf: bytes, responder) -> None:
    from signing import Policy

    signed = sign_pdf(pdf, pki.good)
    responder.ocsp_up = responder.crl_up = False
    assert _verdict(Verifier(trust, Policy()).verify(signed)) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    soft = Verifier(trust, Policy().with_levels(revocation_available="warn")).verify(signed)
    assert soft.passed and any("soft-fail" in w for w in soft.signatures[0].warnings)
