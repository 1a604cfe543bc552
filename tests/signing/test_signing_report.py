"""The report model: aggregation, JSON form, digest and text rendering."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from signing.report import (
    CertInfo,
    DocumentInfo,
    Indication,
    Report,
    SignatureReport,
    SubIndication,
)


def _report(*sigs: SignatureReport) -> Report:
    return Report(DocumentInfo("xml", 10, "00" * 32), "p v1", datetime(2026, 1, 1, tzinfo=UTC), list(sigs))


def _passed(sig_id: str) -> SignatureReport:
    return SignatureReport(sig_id, "XMLDSig", Indication.TOTAL_PASSED)


def test_worst_signature_decides_the_document_indication() -> None:
    bad = SignatureReport("b", "PAdES").fail(Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE, "revoked")
    report = _report(_passed("a"), bad)
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.REVOKED_NO_POE
    bad.fail(Indication.TOTAL_FAILED, SubIndication.HASH_FAILURE, "tampered")
    assert report.indication is Indication.TOTAL_FAILED
    assert report.sub_indication is SubIndication.HASH_FAILURE
    assert bad.errors == ["revoked", "tampered"]


def test_milder_failure_never_overrides_a_worse_one() -> None:
    sig = SignatureReport("s", "JWS").fail(Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE, "x")
    sig.fail(Indication.INDETERMINATE, SubIndication.TRY_LATER, "y")
    assert (sig.indication, sig.sub_indication) == (Indication.TOTAL_FAILED, SubIndication.SIG_CRYPTO_FAILURE)


def test_no_signature_is_indeterminate_not_passed() -> None:
    report = _report()
    assert report.indication is Indication.INDETERMINATE
    assert report.sub_indication is SubIndication.NO_SIGNATURE_FOUND
    assert not report.passed


def test_json_round_trip_excludes_signed_bytes_and_digest_is_stable() -> None:
    sig = _passed("a")
    sig.signed_content = b"secret payload"
    sig.signer = CertInfo("CN=A", "CN=CA", "1f", "ab" * 32, datetime(2025, 1, 1, tzinfo=UTC),
                          datetime(2027, 1, 1, tzinfo=UTC), ["digital_signature"])
    report = _report(sig)
    data = json.loads(report.to_json())
    assert data["indication"] == "TOTAL_PASSED"
    assert data["signatures"][0]["signer"]["not_after"] == "2027-01-01T00:00:00+00:00"
    assert "signed_content" not in data["signatures"][0]
    assert report.digest() == _report(sig).digest()
    sig.warnings.append("changed")
    assert report.digest() != _report(_passed("a")).digest()


def test_text_rendering_names_verdict_signer_and_uncovered_parts() -> None:
    sig = SignatureReport("x", "XMLDSig").fail(Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND, "gap")
    sig.not_covered.append("edXML attachment a.pdf")
    text = _report(sig).render_text()
    assert "INDETERMINATE / SIGNED_DATA_NOT_FOUND" in text
    assert "NOT covered:   edXML attachment a.pdf" in text
    assert "error:         gap" in text
