"""Issue 12 §1: every malformed input gets a reasoned verdict — never an exception, a 500 or a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from lxml import etree
from typer.testing import CliRunner

from lgsp.testing.servers import serve_in_thread
from signing import TrustStore, Verifier
from signing import http as signing_http
from signing.cli import app as cli_app
from signing.report import Indication, SubIndication
from signing.testing import TestPki, edxml_document, minimal_pdf, sign_pdf, sign_xml
from signing.xmldsig import DS_NS


def _verdict(report):
    return report.indication, report.sub_indication


def _two_entry_byte_range(signed: bytes) -> bytes:
    match = re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*\]", signed)
    assert match is not None
    short = b"/ByteRange [" + match.group(1) + b" " + match.group(2) + b"]"
    return signed.replace(match.group(0), short.ljust(len(match.group(0))))  # same length: xref stays right


def test_pdf_byte_range_with_two_entries_is_format_failure(verifier: Verifier, pki: TestPki) -> None:
    report = verifier.verify(_two_entry_byte_range(sign_pdf(minimal_pdf(), pki.good)))
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), report.render_text()
    assert any("/ByteRange has 2 entries" in e for e in report.signatures[0].errors)


@pytest.mark.parametrize(("who", "bits"), [("ed25519", 256), ("ed448", 456)])
def test_pdf_signed_with_eddsa_passes_with_the_key_size_of_its_type(verifier: Verifier, pki: TestPki,
                                                                    who: str, bits: int) -> None:
    report = verifier.verify(sign_pdf(minimal_pdf(), getattr(pki, who)))
    assert report.passed, report.render_text()
    keys = [a for a in report.signatures[0].algorithms if a.role == "key"]
    assert [(k.name, k.key_size) for k in keys] == [("eddsa", bits)]


def test_schema_invalid_xades_block_is_format_failure(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(edxml_document(), pki.good, xades=True)
    broken = re.sub(rb"(<xades:SignedSignatureProperties>)", rb"\1<xades:Bogus/>", signed)
    assert broken != signed
    report = verifier.verify(broken)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), report.render_text()
    assert any("schema" in e for e in report.signatures[0].errors)


def test_xml_id_that_is_not_an_ncname_is_format_failure(verifier: Verifier, pki: TestPki) -> None:
    # libxml2 refuses xml:id="1 x" when signxml re-parses the document (XMLSyntaxError, not a ValueError).
    signed = sign_xml(edxml_document(), pki.good)
    bad = signed.replace(b"<CodeNumber>", b'<CodeNumber xml:id="1 x">', 1)
    report = verifier.verify(bad)
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), report.render_text()


def test_enveloping_signature_whose_object_wraps_the_content_passes(verifier: Verifier, pki: TestPki) -> None:
    from cryptography.hazmat.primitives import serialization
    from signxml import XMLSigner, methods

    content = etree.fromstring(b"<QuyetDinh><So>123/QD-UBND</So></QuyetDinh>")
    signer = XMLSigner(method=methods.enveloping, c14n_algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    chain = [c.public_bytes(serialization.Encoding.PEM).decode() for c in pki.good.chain]
    signed = etree.tostring(signer.sign(content, key=pki.good.key_pem, cert=chain))
    report = verifier.verify(signed)
    assert report.passed, report.render_text()
    # ... and content added to the document outside the signed Object is not covered.
    root = etree.fromstring(signed)
    etree.SubElement(root, f"{{{DS_NS}}}Object", Id="evil").text = "unsigned"
    wrapped = verifier.verify(etree.tostring(root))
    assert _verdict(wrapped) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


def test_signed_element_moved_into_an_object_of_the_signature_is_not_accepted(verifier: Verifier,
                                                                                pki: TestPki) -> None:
    signed = sign_xml(b"<doc><a Id='x'>1</a></doc>", pki.good, reference_uri="#x", exclusive_c14n=True)
    root = etree.fromstring(signed)
    signature = root.find(f".//{{{DS_NS}}}Signature")
    assert signature is not None
    etree.SubElement(signature, f"{{{DS_NS}}}Object").append(root.find("a"))  # type: ignore[arg-type]
    etree.SubElement(root, "a").text = "2"  # unsigned twin where the signed element was
    report = verifier.verify(etree.tostring(root), must_cover=["/doc/a"])
    assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND)


def test_xml_id_reference_is_recognised_as_covered(verifier: Verifier, pki: TestPki) -> None:
    signed = sign_xml(b"<doc><a xml:id='x'>1</a><b/></doc>", pki.good, reference_uri="#x")
    report = verifier.verify(signed, must_cover=["/doc/a"])
    assert report.passed, report.render_text()


@pytest.fixture(scope="module")
def api_url(trust: TrustStore):
    app = FastAPI()
    app.include_router(signing_http.router)
    saved = dict(signing_http._state)
    signing_http.configure(trust)
    with serve_in_thread(app) as server:
        yield server.url
    signing_http._state.clear()
    signing_http._state.update(saved)


def test_endpoint_answers_a_report_for_every_known_trigger(api_url: str, pki: TestPki) -> None:
    signed_xades = sign_xml(edxml_document(), pki.good, xades=True)
    triggers = [
        (_two_entry_byte_range(sign_pdf(minimal_pdf(), pki.good)), "application/pdf"),
        (re.sub(rb"(<xades:SignedSignatureProperties>)", rb"\1<xades:Bogus/>", signed_xades), "application/xml"),
        (sign_xml(edxml_document(), pki.good).replace(b"<CodeNumber>", b'<CodeNumber xml:id="1 x">', 1),
         "application/xml"),
    ]
    for body, content_type in triggers:
        response = httpx.post(f"{api_url}/signatures/verify", content=body, headers={"content-type": content_type})
        assert response.status_code == 200, response.text
        assert response.json()["sub_indication"] == "FORMAT_FAILURE"
    broken = httpx.post(f"{api_url}/signatures/verify", content=b"--x\r\nnot a form",
                        headers={"content-type": "multipart/form-data; boundary=x"})
    assert broken.status_code in {400, 200} and broken.status_code != 500


def test_cli_gives_the_documented_exit_code_for_a_trigger(tmp_path: Path, pki: TestPki) -> None:
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    pdf = tmp_path / "short-byterange.pdf"
    pdf.write_bytes(_two_entry_byte_range(sign_pdf(minimal_pdf(), pki.good)))
    result = CliRunner().invoke(cli_app, ["verify", str(pdf), "--trust", str(tmp_path)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code == 1 and "FORMAT_FAILURE" in result.output
