"""Chain building and revocation against the real CRL/OCSP responder on 127.0.0.1."""

from __future__ import annotations

import datetime as dt

import pytest

from lgsp.testing.servers import start_server
from signing import Policy, TrustStore, strict_policy
from signing.chain import ChainValidator
from signing.report import Indication, SubIndication
from signing.revocation import RevocationCache
from signing.testing import Identity, RevocationResponder, TestPki, build_pki


def _validate(trust: TrustStore, pki: TestPki, who: Identity, policy: Policy | None = None):
    validator = ChainValidator(trust, policy or Policy())
    return validator.validate(who.asn1_cert, [pki.intermediate.asn1_cert])


def test_good_signer_passes_with_ocsp_and_crl_evidence(trust: TrustStore, pki: TestPki) -> None:
    result = _validate(trust, pki, pki.good)
    assert result.ok, result.message
    assert [c.subject.split("Common Name: ")[1].split(",")[0] for c in result.chain] == [
        "Nguyen Van A", "LGSP Test Issuing CA", "LGSP Test Root CA"]
    kinds = {(ev.kind, ev.status) for ev in result.revocation}
    assert ("OCSP", "good") in kinds and ("CRL", "good") in kinds  # leaf by OCSP, intermediate by CRL
    ocsp = next(ev for ev in result.revocation if ev.kind == "OCSP")
    assert ocsp.nonce_checked is True and ocsp.source and ocsp.source.endswith("/ocsp")


@pytest.mark.parametrize(("who", "indication", "sub"), [
    ("revoked", Indication.INDETERMINATE, SubIndication.REVOKED_NO_POE),
    ("expired", Indication.INDETERMINATE, SubIndication.OUT_OF_BOUNDS_NO_POE),
    ("wrong_key_usage", Indication.INDETERMINATE, SubIndication.CHAIN_CONSTRAINTS_FAILURE),
])
def test_bad_signers_get_their_exact_sub_indication(trust: TrustStore, pki: TestPki, who: str,
                                                    indication: Indication, sub: SubIndication) -> None:
    result = _validate(trust, pki, getattr(pki, who))
    assert (result.indication, result.sub_indication) == (indication, sub), result.message


def test_revoked_signer_reports_the_revoking_evidence(trust: TrustStore, pki: TestPki) -> None:
    result = _validate(trust, pki, pki.revoked)
    assert any(ev.status == "revoked" and ev.revocation_time is not None for ev in result.revocation)


def test_untrusted_root_has_no_chain(trust: TrustStore, pki: TestPki) -> None:
    result = ChainValidator(trust).validate(pki.untrusted.asn1_cert)
    assert result.sub_indication is SubIndication.NO_CERTIFICATE_CHAIN_FOUND


def test_revocation_unreachable_is_try_later_when_required(trust: TrustStore, pki: TestPki,
                                                           responder: RevocationResponder) -> None:
    responder.ocsp_up = responder.crl_up = False
    result = _validate(trust, pki, pki.good)
    assert (result.indication, result.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert any(ev.status == "unavailable" and "503" in (ev.error or "") for ev in result.revocation)


def test_soft_fail_policy_passes_with_a_warning(trust: TrustStore, pki: TestPki,
                                                responder: RevocationResponder) -> None:
    responder.ocsp_up = responder.crl_up = False
    result = _validate(trust, pki, pki.good, Policy().with_levels(revocation_available="warn"))
    assert result.ok
    assert any("soft-fail" in w for w in result.warnings)


def test_ocsp_down_but_crl_up_still_decides(trust: TrustStore, pki: TestPki, responder: RevocationResponder) -> None:
    responder.ocsp_up = False
    result = _validate(trust, pki, pki.revoked)
    assert result.sub_indication is SubIndication.REVOKED_NO_POE
    assert any(ev.kind == "CRL" and ev.status == "revoked" for ev in result.revocation)


def test_trickling_responder_is_try_later_instead_of_a_hang(trust: TrustStore, pki: TestPki,
                                                            responder: RevocationResponder) -> None:
    # A responder that sends its answer a byte at a time never lets a socket read time out; the worker
    # thread kept reading and asyncio.run waited for it, so the verification hung for minutes.
    import threading

    responder.trickle = True
    results: list = []
    worker = threading.Thread(target=lambda: results.append(
        _validate(trust, pki, pki.good, Policy(revocation_timeout=0.5))), daemon=True)
    worker.start()
    worker.join(30)  # a hang guard, not a timing assertion: the fixed code returns after about a second
    responder.trickle = False
    assert not worker.is_alive(), "verification still running: the revocation fetch has no overall deadline"
    result = results[0]
    assert (result.indication, result.sub_indication) == (Indication.INDETERMINATE, SubIndication.TRY_LATER)
    assert any(ev.status == "unavailable" for ev in result.revocation)


def test_responder_process_gone_is_try_later() -> None:
    # A responder that is not running at all (connection refused), not merely answering 503.
    app = RevocationResponder()
    server = start_server(app)
    app.pki = pki = build_pki(server.url)
    server.stop()
    result = ChainValidator(TrustStore.from_pem(pki.root_pem)).validate(
        pki.good.asn1_cert, [pki.intermediate.asn1_cert])
    assert result.sub_indication is SubIndication.TRY_LATER


def test_crl_is_cached_until_next_update(trust: TrustStore, pki: TestPki, responder: RevocationResponder) -> None:
    now = [dt.datetime.now(dt.UTC)]
    cache = RevocationCache(clock=lambda: now[0])
    before = responder.hits.get("/crl/root.crl", 0)
    for who in (pki.good, pki.ec, pki.weak_key):  # three signers, one intermediate CRL download
        ChainValidator(trust, revocation_cache=cache).validate(who.asn1_cert, [pki.intermediate.asn1_cert])
    assert responder.hits["/crl/root.crl"] - before == 1
    now[0] += dt.timedelta(hours=2)  # past the CRL's nextUpdate (1 h)
    ChainValidator(trust, revocation_cache=cache).validate(pki.good.asn1_cert, [pki.intermediate.asn1_cert])
    assert responder.hits["/crl/root.crl"] - before == 2


def test_validated_chain_is_cached_and_costs_no_fetch(trust: TrustStore, pki: TestPki,
                                                       responder: RevocationResponder) -> None:
    validator = ChainValidator(trust)
    first = validator.validate(pki.good.asn1_cert, [pki.intermediate.asn1_cert])
    hits = dict(responder.hits)
    second = validator.validate(pki.good.asn1_cert, [pki.intermediate.asn1_cert])
    assert not first.from_cache and second.from_cache
    assert responder.hits == hits
    assert all(ev.from_cache for ev in second.revocation)


def test_try_later_is_not_cached(trust: TrustStore, pki: TestPki, responder: RevocationResponder) -> None:
    validator = ChainValidator(trust)
    responder.ocsp_up = responder.crl_up = False
    first = validator.validate(pki.good.asn1_cert, [pki.intermediate.asn1_cert])
    assert first.sub_indication is SubIndication.TRY_LATER
    responder.ocsp_up = responder.crl_up = True
    assert validator.validate(pki.good.asn1_cert, [pki.intermediate.asn1_cert]).ok


def test_missing_ocsp_nonce_warns_by_default_and_fails_under_strict(trust: TrustStore, pki: TestPki,
                                                                     responder: RevocationResponder) -> None:
    responder.echo_nonce = False
    lenient = _validate(trust, pki, pki.good)
    assert lenient.ok and any("nonce" in w for w in lenient.warnings)
    strict = _validate(trust, pki, pki.good, strict_policy())
    assert strict.sub_indication is SubIndication.TRY_LATER and "nonce" in strict.message
