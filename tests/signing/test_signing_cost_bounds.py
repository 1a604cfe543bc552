"""The cost a caller or a document can impose on verification is bounded, and the verdict stays right.

No test here measures time: each asserts the verdict and the bound (a refusal naming the limit), on inputs
built so that, without the bound, the work would be large.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from lgsp.testing.servers import serve_in_thread
from signing import TrustStore, Verifier
from signing import http as signing_http
from signing.cli import app as cli_app
from signing.testing import TestPki, edxml_document, sign_xml
from signing.xmlcover import MAX_EXPRESSIONS, MAX_LENGTH, MAX_STEPS, MustCoverError

SOAP = (b'<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body Id="b">'
        b"<x>1</x></soap:Body></soap:Envelope>")

#: XPath a token holder could send to burn CPU (or that is simply not a location path).
EXPENSIVE = [
    "//*[count(//*) > 0]",
    "//*[count(//*[count(//*) > 0]) > 0]",
    " | ".join(["//*"] * 200),
    "/*" + "/*" * (MAX_STEPS + 1),
    "/" + "a" * (MAX_LENGTH + 1),
    "count(//*)",
    "//text()",
    "/soap:Envelope//soap:Body",  # '//' only as the first step
    "/x:y",  # unknown prefix
    "/*[last()]",
    "/descendant::*",
]


@pytest.mark.parametrize("xpath", EXPENSIVE)
def test_must_cover_outside_the_safe_subset_is_refused_before_verification(verifier: Verifier,
                                                                          xpath: str) -> None:
    with pytest.raises(MustCoverError) as caught:
        verifier.verify(SOAP, "application/xml", must_cover=[xpath])
    assert "must_cover" in str(caught.value)


def test_too_many_must_cover_paths_are_refused(verifier: Verifier) -> None:
    with pytest.raises(MustCoverError, match=f"at most {MAX_EXPRESSIONS}"):
        verifier.verify(SOAP, "application/xml", must_cover=["/*"] * (MAX_EXPRESSIONS + 1))


@pytest.mark.parametrize("xpath", ["/soap:Envelope/soap:Body", "//soap:Body", "/*/*[1]", "/*/soap:Body"])
def test_simple_paths_still_verify(verifier: Verifier, pki: TestPki, xpath: str) -> None:
    signed = sign_xml(SOAP, pki.good, reference_uri="#b")
    assert verifier.verify(signed, "application/xml", must_cover=[xpath]).passed


@pytest.fixture
def api_url(trust: TrustStore) -> Iterator[str]:
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust)
    with serve_in_thread(app) as server:
        yield server.url
    signing_http._state.clear()
    signing_http._state.update(saved)


def test_endpoint_answers_422_naming_must_cover(api_url: str, pki: TestPki) -> None:
    signed = sign_xml(SOAP, pki.good, reference_uri="#b")
    response = httpx.post(f"{api_url}/signatures/verify", content=signed, headers={"content-type": "application/xml"},
                          params={"must_cover": "//*[count(//*) > 0]"})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/invalid-must-cover") and problem["status"] == 422
    assert problem["errors"][0]["field"] == "must_cover"
    fine = httpx.post(f"{api_url}/signatures/verify", content=signed, headers={"content-type": "application/xml"},
                      params={"must_cover": "/soap:Envelope/soap:Body"})
    assert fine.status_code == 200 and fine.json()["indication"] == "TOTAL_PASSED"


def test_cli_refuses_an_expensive_must_cover_as_a_usage_error(tmp_path: Path, pki: TestPki) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    path = tmp_path / "m.xml"
    path.write_bytes(sign_xml(edxml_document(), pki.good))
    result = CliRunner().invoke(cli_app, ["verify", str(path), "--trust", str(tmp_path),
                                          "--must-cover", "//*[count(//*) > 0]"])
    assert result.exit_code == 2
    assert "--must-cover" in result.output and "Traceback" not in result.output


def _dss_of_inflating_streams(signed: bytes, streams: int, each: int) -> bytes:
    """An incremental update adding a DSS whose /CRLs are Flate streams of ``each`` bytes that compress
    about a thousandfold (a DER SEQUENCE header, then zeros): a few KB on disk, ``streams * each`` decoded."""
    import io
    import zlib

    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(signed), strict=False)
    blob = zlib.compress(b"\x30\x84" + (each - 6).to_bytes(4, "big") + b"\0" * (each - 6), 9)
    refs = [writer.add_object(generic.StreamObject(
        {generic.NameObject("/Filter"): generic.NameObject("/FlateDecode")}, encoded_data=blob))
        for _ in range(streams)]
    writer.root[generic.NameObject("/DSS")] = writer.add_object(
        generic.DictionaryObject({generic.NameObject("/CRLs"): generic.ArrayObject(refs)}))
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def test_pdf_decoding_past_the_budget_is_a_format_failure_naming_the_limit(verifier: Verifier,
                                                                             pki: TestPki) -> None:
    """pyhanko's own budget is 100x the file size (at least 256 MiB): a 250 KB PDF decoded 240 MB (825 MB
    resident, 5 s) and was still verified. The budget is now max_decoded_bytes (default max_document_bytes)."""
    from signing.testing import minimal_pdf, sign_pdf

    budget = verifier.policy.decode_budget
    assert budget == verifier.policy.max_document_bytes
    each = 4 * 1024 * 1024
    bomb = _dss_of_inflating_streams(sign_pdf(minimal_pdf(), pki.good), budget // each + 1, each)
    assert len(bomb) < budget // 100  # small on the wire
    report = verifier.verify(bomb, "application/pdf")
    assert (report.indication.value, report.sub_indication and report.sub_indication.value) == (
        "TOTAL_FAILED", "FORMAT_FAILURE")
    assert any("max_decoded_bytes" in e and str(budget) in e for e in report.errors), report.errors


def test_pdf_decode_budget_is_a_policy_setting(trust: TrustStore, pki: TestPki) -> None:
    from signing import Policy
    from signing.testing import minimal_pdf, sign_pdf

    policy = Policy.from_mapping({"max_decoded_bytes": 1024 * 1024})
    assert policy.decode_budget == 1024 * 1024
    bomb = _dss_of_inflating_streams(sign_pdf(minimal_pdf(), pki.good), 2, 1024 * 1024)
    report = Verifier(trust, policy).verify(bomb, "application/pdf")
    assert report.sub_indication is not None and report.sub_indication.value == "FORMAT_FAILURE"
    assert any("1048576" in e for e in report.errors), report.errors
    assert Verifier(trust, Policy()).verify(sign_pdf(minimal_pdf(), pki.good), "application/pdf").passed


ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def _whole_document_references(pki: TestPki, count: int, transforms: list[str] | None = None) -> bytes:
    """A *valid* signature with ``count`` whole-document references (the signer may be anyone: the
    references are resolved whether or not the chain is trusted)."""
    from lxml import etree

    from signing.testing import sign_references

    doc = edxml_document()
    canonical = etree.tostring(etree.fromstring(doc), method="c14n", exclusive=True)
    return sign_references(doc, pki.good, [("", transforms or [ENVELOPED, EXC_C14N], canonical)] * count)


def _refused(report: object, *words: str) -> bool:
    from signing import Report

    assert isinstance(report, Report)
    return (report.indication.value == "TOTAL_FAILED" and report.sub_indication is not None
            and report.sub_indication.value == "FORMAT_FAILURE"
            and any(all(w in e for w in words) for e in report.errors))


def test_xml_references_are_bounded_per_document(verifier: Verifier, pki: TestPki) -> None:
    """Each reference copies and canonicalises the document: 3,000 over a 1 MB packet took 67 s, 6.4 GB."""
    from signing.limits import MAX_REFERENCES

    assert verifier.verify(_whole_document_references(pki, 2)).passed
    report = verifier.verify(_whole_document_references(pki, MAX_REFERENCES + 1))
    assert _refused(report, "ds:Reference", f"limit of {MAX_REFERENCES}"), report.errors


def test_xml_transforms_per_reference_are_bounded(verifier: Verifier, pki: TestPki) -> None:
    from signing.limits import MAX_TRANSFORMS

    signed = _whole_document_references(pki, 1, [ENVELOPED] + [EXC_C14N] * MAX_TRANSFORMS)
    assert _refused(verifier.verify(signed), "ds:Transform", f"limit of {MAX_TRANSFORMS}")


def test_xml_signatures_and_keyinfo_certificates_are_bounded(verifier: Verifier, pki: TestPki) -> None:
    from lxml import etree

    from signing.limits import MAX_CERTIFICATES, MAX_SIGNATURES

    signed = etree.fromstring(_whole_document_references(pki, 1))
    x509_data = signed.find(".//{http://www.w3.org/2000/09/xmldsig#}X509Data")
    assert x509_data is not None
    first = x509_data[0]
    for _ in range(MAX_CERTIFICATES):  # KeyInfo is not signed: the signature stays valid
        x509_data.append(etree.fromstring(etree.tostring(first)))
    assert _refused(verifier.verify(etree.tostring(signed)), "X509Certificate", f"limit of {MAX_CERTIFICATES}")
    root = etree.fromstring(edxml_document())
    for _ in range(MAX_SIGNATURES + 1):
        root.append(etree.fromstring(
            b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>'))
    assert _refused(verifier.verify(etree.tostring(root)), "signatures", f"limit of {MAX_SIGNATURES}")


def test_jws_signatures_and_x5c_are_bounded(verifier: Verifier, pki: TestPki) -> None:
    import base64
    import json

    from cryptography.hazmat.primitives import serialization
    from joserfc import jws
    from joserfc.jwk import RSAKey

    from signing.limits import MAX_CERTIFICATES, MAX_SIGNATURES
    from signing.testing import sign_jws

    general = json.loads(sign_jws(b'{"a": 1}', pki.good, json_form=True))
    assert verifier.verify(json.dumps(general).encode(), "application/jose+json").passed
    general["signatures"] = general["signatures"] * (MAX_SIGNATURES + 1)
    assert _refused(verifier.verify(json.dumps(general).encode(), "application/jose+json"), "JWS signatures",
                    f"limit of {MAX_SIGNATURES}")
    der = base64.b64encode(pki.good.cert.public_bytes(serialization.Encoding.DER)).decode()
    token = jws.serialize_compact({"alg": "RS256", "x5c": [der] * (MAX_CERTIFICATES + 1)}, b"{}",
                                  RSAKey.import_key(pki.good.key_pem))
    report = verifier.verify(token.encode(), "application/jose")
    assert report.signatures
    assert any("x5c" in e and f"limit of {MAX_CERTIFICATES}" in e for e in report.signatures[0].errors)
    assert report.indication.value == "TOTAL_FAILED"


def test_pdf_signatures_are_bounded(verifier: Verifier, pki: TestPki) -> None:
    """Each PDF signature runs a difference analysis over every later revision."""
    from signing.limits import MAX_SIGNATURES
    from signing.testing import minimal_pdf, sign_pdf

    data = minimal_pdf()
    for index in range(MAX_SIGNATURES + 1):
        data = sign_pdf(data, pki.good, field_name=f"Sig{index}")
    assert _refused(verifier.verify(data, "application/pdf"), "PDF signatures", f"limit of {MAX_SIGNATURES}")
