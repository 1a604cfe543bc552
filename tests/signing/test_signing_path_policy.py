"""Issue 12 §7: the RFC 5280 path-validation inputs come from the policy and reach certvalidator."""

from __future__ import annotations

import pytest

from signing import Policy, TrustStore, Verifier
from signing.policy import PathValidation
from signing.report import SubIndication
from signing.testing import (
    Identity,
    Issuer,
    TestPki,
    cert_name,
    edxml_document,
    key_usage,
    minimal_pdf,
    new_rsa,
    sign_jws,
    sign_pdf,
    sign_xml,
)

PROVINCE_POLICY = "1.3.6.1.4.1.99999.1.1"  # a private-arc OID standing in for a province's certificate policy
OTHER_POLICY = "1.3.6.1.4.1.99999.1.2"


@pytest.fixture(scope="module")
def policy_signer(pki: TestPki) -> Identity:
    """Root -> a CA asserting anyPolicy -> a signer asserting the province's policy (RFC 5280 §6.1.3: every CA
    of the path must carry the policy, or anyPolicy, for it to survive). No revocation URLs: this is about
    policy processing, so the tests run revocation soft-fail."""
    issuer = Issuer(pki.base_url)
    ca = issuer.issue("policy-ca", cert_name("LGSP Policy CA"), new_rsa(), pki.root, ca=True,
                      ku=key_usage(ca=True), crl_name="root", policies=["2.5.29.32.0"])
    pki.by_serial[ca.cert.serial_number] = ca
    return issuer.issue("policy", cert_name("Nguyen Van Chinh Sach", "UBND Can Tho"), new_rsa(), ca,
                        ku=key_usage(sign=True, nr=True), policies=[PROVINCE_POLICY])


def _policy(**rules: object) -> Policy:
    return Policy.from_mapping({"path_validation": rules, "checks": {"revocation_available": "warn"}})


def _documents(signer: Identity) -> list[bytes]:
    return [sign_xml(edxml_document(), signer), sign_pdf(minimal_pdf(), signer), sign_jws(b"{}", signer).encode()]


def test_policy_file_reads_the_rfc5280_inputs() -> None:
    rules = _policy(initial_policy_set=[PROVINCE_POLICY], explicit_policy_required=True,
                    policy_mapping_inhibited=True, any_policy_inhibited=True).path_validation
    assert rules == PathValidation(frozenset({PROVINCE_POLICY}), True, True, True)
    with pytest.raises(ValueError, match="unknown path_validation keys"):
        _policy(explicit_policy=True)
    with pytest.raises(ValueError, match="true or false"):
        _policy(explicit_policy_required="yes")


def test_required_policy_present_passes(trust: TrustStore, policy_signer: Identity) -> None:
    verifier = Verifier(trust, _policy(initial_policy_set=[PROVINCE_POLICY], explicit_policy_required=True))
    for data in _documents(policy_signer):
        report = verifier.verify(data)
        assert report.passed, report.render_text()


def test_required_policy_absent_is_a_chain_constraints_failure(trust: TrustStore, pki: TestPki,
                                                               policy_signer: Identity) -> None:
    verifier = Verifier(trust, _policy(initial_policy_set=[OTHER_POLICY], explicit_policy_required=True))
    for data in _documents(policy_signer):
        report = verifier.verify(data)
        assert report.sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE, report.render_text()
    # a signer without any certificate policy fails an explicit-policy requirement too
    strict = Verifier(trust, _policy(explicit_policy_required=True))
    assert strict.verify(sign_xml(edxml_document(), pki.good)).sub_indication is SubIndication.CHAIN_CONSTRAINTS_FAILURE
    # and without path-validation rules nothing changes
    assert Verifier(trust, Policy()).verify(sign_xml(edxml_document(), pki.good)).passed
