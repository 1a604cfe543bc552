"""Material nobody here wrote: signatures built to mislead the verifier (odd transforms, unsupported PDF
signature types, non-canonical JWS encodings). Each must get an honest verdict, never a wrong PASSED."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from signing import Verifier
from signing.report import Indication, SubIndication
from signing.testing import TestPki, minimal_pdf, sign_jws, sign_pdf, sign_references

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
BASE64 = "http://www.w3.org/2000/09/xmldsig#base64"
XPATH = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XSLT = "http://www.w3.org/TR/1999/REC-xslt-19991116"


def _verdict(report):
    return report.indication, report.sub_indication


def test_base64_transform_over_the_whole_document_does_not_cover_the_document(verifier: Verifier,
                                                                              pki: TestPki) -> None:
    # The signer digests the base64-decoded text of the root: an envelope of its choosing that is not the
    # document. That parse passed for "the whole document", Body included, while the Body said otherwise.
    meant = (f'<soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body><Pay>10</Pay></soap:Body>'
             "</soap:Envelope>").encode()
    document = (f'<soap:Envelope xmlns:soap="{SOAP_NS}">{base64.b64encode(meant).decode()}<soap:Header/>'
                "<soap:Body><Pay>1000000</Pay></soap:Body></soap:Envelope>").encode()
    signed = sign_references(document, pki.good, [("", [ENVELOPED, BASE64], meant)], parent_xpath="/*/*[1]")
    for must_cover in (None, ["/soap:Envelope/soap:Body"]):
        report = verifier.verify(signed, "application/xml", must_cover=must_cover)
        assert _verdict(report) == (Indication.INDETERMINATE, SubIndication.SIGNED_DATA_NOT_FOUND), report.to_json()
        assert "base64-decoded" in report.signatures[0].covered[0].description


def test_xpath_and_xslt_transforms_are_refused_not_reported_as_changed_content(verifier: Verifier,
                                                                               pki: TestPki) -> None:
    # signxml skips transforms it does not know and digests the untransformed document, so a genuine
    # signature with an XPath filter came out as HASH_FAILURE ("the signed content was changed").
    document = b'<root xmlns="urn:x"><a>hello</a></root>'
    for transform in (XPATH, XSLT):
        signed = sign_references(document, pki.good, [("", [ENVELOPED, transform], b"<a>hello</a>")])
        report = verifier.verify(signed, "application/xml")
        assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
        assert "unsupported Reference transform" in report.signatures[0].errors[0]


def test_pdf_signature_of_an_unsupported_type_is_reported_not_dropped(verifier: Verifier, pki: TestPki) -> None:
    # pyhanko skips a signature whose /SubFilter it does not verify and only logs it: the document read
    # NO_SIGNATURE_FOUND, and beside a good signature it was TOTAL_PASSED with one signature never looked at.
    one = sign_pdf(minimal_pdf(), pki.good)
    two = sign_pdf(one, pki.ec, field_name="Signature2")
    at = two.rindex(b"/ETSI.CAdES.detached")
    legacy = two[:at] + b"/adbe.x509.rsa_sha1 " + two[at + len(b"/ETSI.CAdES.detached"):]  # same length
    report = verifier.verify(legacy, "application/pdf")
    assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    by_id = {s.id: s for s in report.signatures}
    assert by_id["pdf:Signature1"].indication is Indication.TOTAL_PASSED
    assert "unsupported /SubFilter /adbe.x509.rsa_sha1" in by_id["pdf:Signature2"].errors[0]
    alone = one.replace(b"/ETSI.CAdES.detached", b"/adbe.x509.rsa_sha1 ")
    assert _verdict(verifier.verify(alone, "application/pdf")) == (Indication.TOTAL_FAILED,
                                                                   SubIndication.FORMAT_FAILURE)


def _shadow_update(signed: bytes) -> bytes:
    """An incremental update that replaces the signed page content (a shadow attack)."""
    import re

    stream = b"BT /F1 12 Tf 72 720 Td (Noi dung da bi sua) Tj ET"
    update = b"\n4 0 obj\n<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream\nendobj\n"
    xref_at = len(signed) + len(update)
    previous = int(re.findall(rb"startxref\s+(\d+)", signed)[-1])
    size = int(re.findall(rb"/Size (\d+)", signed)[-1])
    root = re.findall(rb"/Root (\d+ \d+ R)", signed)[-1]
    update += (b"xref\n0 1\n0000000000 65535 f \n4 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %s /Prev %d >>\n"
               b"startxref\n%d\n%%%%EOF\n" % (len(signed) + 1, size, root, previous, xref_at))
    return signed + update


def test_cli_prints_no_library_traceback(tmp_path: Path, pki: TestPki) -> None:
    # pyhanko logs the diff analysis of a shadow attack (and every signature it skips) with exc_info; with
    # logging unconfigured Python's last-resort handler printed those tracebacks under the verdict.
    (tmp_path / "root.pem").write_bytes(pki.root_pem)
    shadow = tmp_path / "shadow.pdf"
    shadow.write_bytes(_shadow_update(sign_pdf(minimal_pdf(), pki.good)))
    done = subprocess.run([sys.executable, "-m", "signing.cli", "verify", str(shadow), "--trust",
                           str(tmp_path / "root.pem")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "LGSP_TRUST_PATHS": "", "LGSP_CONFIG": ""})
    assert done.returncode == 1, done.stderr
    assert "TOTAL_FAILED / FORMAT_FAILURE" in done.stdout and "changes after signing" in done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert all(line.startswith("note (") for line in done.stderr.splitlines()), done.stderr


def test_jws_segments_must_be_base64url_without_padding(verifier: Verifier, pki: TestPki) -> None:
    # Python's decoder accepts '=' padding and the '+' '/' alphabet and skips other characters, so an altered
    # signature segment (not covered by the signature) gave a second token that still verified.
    header, payload, signature = sign_jws(b'{"hoSo": "H10.1-0001"}', pki.ec).split(".")
    assert verifier.verify(f"{header}.{payload}.{signature}".encode()).passed
    variants = [f"{header}.{payload}.{signature}==", f"{header}.{payload}.{signature[:8]}!!!!{signature[8:]}"]
    standard = signature.replace("-", "+").replace("_", "/")
    if standard != signature:  # the signature is random: it may hold neither character
        variants.append(f"{header}.{payload}.{standard}")
    for token in variants:
        report = verifier.verify(token.encode(), "application/jose")
        assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), token
        assert any("base64url" in e for s in report.signatures for e in s.errors) or \
            any("base64url" in e for e in report.errors)


def test_jws_json_with_unprotected_crit_or_two_serialisations_is_refused(verifier: Verifier,
                                                                         pki: TestPki) -> None:
    general = json.loads(sign_jws(b'{"hoSo": 1}', pki.ec, json_form=True))
    member = general["signatures"][0]
    unprotected_crit = {"payload": general["payload"], "protected": member["protected"],
                        "header": {"crit": ["exp"], "exp": 0}, "signature": member["signature"]}
    mixed = {**general, "protected": "eyJhbGciOiJub25lIn0", "signature": ""}  # + a flattened alg:none
    for document in (unprotected_crit, mixed):
        report = verifier.verify(json.dumps(document).encode(), "application/jose")
        assert _verdict(report) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE), report.to_json()


def test_jws_iat_out_of_range_is_a_warning_not_a_failure(verifier: Verifier, pki: TestPki) -> None:
    # datetime.fromtimestamp(1e20) raised OverflowError: a valid signature became FORMAT_FAILURE.
    report = verifier.verify(sign_jws(b'{"iat": 1e20}', pki.ec).encode(), "application/jose")
    assert report.passed, report.to_json()
    assert any("'iat'" in w for w in report.signatures[0].warnings)


def _encrypted_signed_pdf(signer, user_password: str) -> bytes:
    """A PDF encrypted with ``user_password`` (empty: permissions only) and then signed."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(minimal_pdf())))
    writer.encrypt("owner-secret", user_password)
    encrypted = io.BytesIO()
    writer.write(encrypted)
    incremental = IncrementalPdfFileWriter(io.BytesIO(encrypted.getvalue()))
    incremental.encrypt(user_password)
    pdf_signer = signers.SimpleSigner(signing_cert=signer.asn1_cert, signing_key=signer.asn1_key,
                                      cert_registry=SimpleCertificateStore.from_certs(
                                          [signer.asn1_cert.load(c.public_bytes(Encoding.DER))
                                           for c in signer.chain[1:]]))
    meta = signers.PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)
    return signers.sign_pdf(incremental, meta, signer=pdf_signer).getvalue()


def test_encrypted_pdf_with_an_empty_user_password_is_verified(verifier: Verifier, pki: TestPki) -> None:
    # Permission-only encryption ("no printing") opens for everyone; the reader was never opened, so its
    # signature was FORMAT_FAILURE "No key available to decrypt", and an unsigned one NO_SIGNATURE_FOUND.
    report = verifier.verify(_encrypted_signed_pdf(pki.good, ""), "application/pdf")
    assert report.passed, report.render_text()
    locked = verifier.verify(_encrypted_signed_pdf(pki.good, "mat-khau"), "application/pdf")
    assert _verdict(locked) == (Indication.TOTAL_FAILED, SubIndication.FORMAT_FAILURE)
    assert "password" in locked.errors[0]
