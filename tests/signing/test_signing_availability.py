"""Availability bounds of verification: revocation fetching has one deadline per verification and a cap on
the URLs tried, CRLs are bounded and checked before their entries are read, and what a signature may carry
(CertificateValues, DSS certificates and revocation values, revisions) is capped.

Real parts only: responders that accept a connection and never answer are real sockets on 127.0.0.1,
certificates and signatures come from the test PKI. No assertion on speed: a verification that would hang
is caught by a generous join (three times the deadline), and the bounds are asserted as counts.
"""

from __future__ import annotations

import datetime as dt
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from signing import Policy, Report, TrustStore, Verifier
from signing.revlimits import MAX_URLS_PER_CERTIFICATE
from signing.testing import (
    Identity,
    TestPki,
    cert_name,
    edxml_document,
    key_usage,
    minimal_pdf,
    new_rsa,
    sign_pdf,
    sign_xml,
)


class SilentResponder:
    """Accepts every connection and never answers (a responder behind a dead proxy); counts connections."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent() -> Iterator[SilentResponder]:
    server = SilentResponder()
    yield server
    server.close()


def signer_listing(pki: TestPki, base_url: str, count: int) -> Identity:
    """A signer issued by the test PKI's issuing CA whose certificate lists ``count`` OCSP responders and
    ``count`` CRL distribution points, all at ``base_url``."""
    issuer = pki.intermediate
    key = new_rsa()
    now = dt.datetime.now(dt.UTC)
    ocsp = x509.oid.AuthorityInformationAccessOID.OCSP
    cert = (x509.CertificateBuilder().subject_name(cert_name("Nhieu URL Thu Hoi")).issuer_name(issuer.cert.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(sign=True, nr=True), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),  # type: ignore[arg-type]
                           critical=False)
            .add_extension(x509.AuthorityInformationAccess([
                x509.AccessDescription(ocsp, x509.UniformResourceIdentifier(f"{base_url}/ocsp/{i}"))
                for i in range(count)]), critical=False)
            .add_extension(x509.CRLDistributionPoints([
                x509.DistributionPoint([x509.UniformResourceIdentifier(f"{base_url}/crl/{i}.crl")], None, None, None)
                for i in range(count)]), critical=False)
            .sign(issuer.key, hashes.SHA256()))  # type: ignore[arg-type]
    return Identity("many-urls", key, cert, [issuer.cert, *issuer.issuers])


def finishes(run: Callable[[], Any], guard: float) -> Any:
    """``run()`` in a thread; fails (instead of hanging the suite) when it is still running after ``guard``."""
    results: list[Any] = []
    worker = threading.Thread(target=lambda: results.append(run()), daemon=True)
    worker.start()
    worker.join(guard)
    assert not worker.is_alive(), f"verification still running after {guard:g} s: revocation has no deadline"
    return results[0]


def _subs(report: Report) -> set[str]:
    return {s.sub_indication.value for s in report.signatures if s.sub_indication is not None}


#: Each exchange may take 1 s, all of one verification 2 s: the signer below lists six of each kind.
FAST = Policy(revocation_timeout=1.0, revocation_deadline=2.0)


def test_dead_responders_end_at_the_deadline_as_try_later(trust: TrustStore, pki: TestPki,
                                                          silent: SilentResponder) -> None:
    """Old: every URL tried in turn at its own timeout — 6 OCSP + 6 CRL URLs took 12 connections and 12 s
    at 1 s each (a minute at the default 5 s), with no bound on the number listed."""
    signed = sign_xml(edxml_document(), signer_listing(pki, silent.url, 6))
    report = finishes(lambda: Verifier(trust, FAST).verify(signed), FAST.revocation_deadline * 3)
    assert (report.indication.value, _subs(report)) == ("INDETERMINATE", {"TRY_LATER"}), report.render_text()
    assert 1 <= len(silent.connections) <= 2 * MAX_URLS_PER_CERTIFICATE
    errors = " ".join(ev.error or "" for ev in report.signatures[0].revocation)
    assert "deadline" in errors or "more URL(s) listed" in errors, errors


def test_the_deadline_covers_every_signature_of_a_document(trust: TrustStore, pki: TestPki,
                                                           silent: SilentResponder) -> None:
    """Two PDF signatures by that signer: the second one waits for nothing (old: the full wait again)."""
    signer = signer_listing(pki, silent.url, 6)
    signed = sign_pdf(sign_pdf(minimal_pdf(), signer, field_name="CaNhan"), signer, field_name="ToChuc")
    report = finishes(lambda: Verifier(trust, FAST).verify(signed, "application/pdf"), FAST.revocation_deadline * 3)
    assert len(report.signatures) == 2
    assert (report.indication.value, _subs(report)) == ("INDETERMINATE", {"TRY_LATER"}), report.render_text()
    assert len(silent.connections) <= 2 * MAX_URLS_PER_CERTIFICATE
    assert any("deadline" in (ev.error or "") for ev in report.signatures[1].revocation)


def test_an_edxml_packet_and_its_pdfs_share_one_deadline(trust: TrustStore, pki: TestPki,
                                                          silent: SilentResponder) -> None:
    """verify_packet verifies the packet and each attached PDF: one deadline for all (old: one wait each)."""
    import base64

    signer = signer_listing(pki, silent.url, 6)
    pdf = base64.b64encode(sign_pdf(minimal_pdf(), signer)).decode()
    second = ("<Attachment><ContentId>cid:att-2</ContentId><AttachmentName>phu-luc.pdf</AttachmentName>"
              f"<ContentType>application/pdf</ContentType><ContentTransferEncoded>{pdf}"
              "</ContentTransferEncoded></Attachment>")
    doc = (edxml_document().replace(b"JVBERi0xLjQK", pdf.encode())
           .replace(b"</AttachmentEncoded>", second.encode() + b"</AttachmentEncoded>"))
    packet, pdfs = finishes(lambda: Verifier(trust, FAST).verify_packet(sign_xml(doc, signer)),
                            FAST.revocation_deadline * 3)
    assert _subs(packet) == {"TRY_LATER"} and len(pdfs) == 2
    assert all(_subs(report) == {"TRY_LATER"} for report in pdfs.values())
    assert len(silent.connections) <= 2 * MAX_URLS_PER_CERTIFICATE


def test_deadline_and_crl_bound_are_policy_settings() -> None:
    policy = Policy.from_mapping({"revocation": {"timeout_seconds": 2, "deadline_seconds": 9,
                                                 "max_crl_bytes": 1024}})
    assert (policy.revocation_timeout, policy.revocation_deadline, policy.max_crl_bytes) == (2.0, 9.0, 1024)
    assert (Policy().revocation_deadline, Policy().max_crl_bytes) == (15.0, 16 * 1024 * 1024)
    for bad in ({"deadline": 9}, {"deadline_seconds": 0}, {"max_crl_bytes": "big"}):
        with pytest.raises(ValueError, match="revocation"):
            Policy.from_mapping({"revocation": bad})


def test_a_reachable_responder_is_still_used(verifier: Verifier, pki: TestPki) -> None:
    assert verifier.verify(sign_xml(edxml_document(), pki.good)).passed


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _tlv(tag: int, body: bytes) -> bytes:
    size = len(body)
    if size < 0x80:
        return bytes([tag, size]) + body
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + body


def crl_of(issuer: Identity, serials: list[int], filler: int = 0, *, forged: bool = False) -> bytes:
    """A CRL in ``issuer``'s name listing ``serials`` and ``filler`` more entries, written as DER directly (the
    builders take seconds for a long list). Signed with ``issuer``'s key, or with a stranger's (``forged``)."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    when = _tlv(0x17, dt.datetime.now(dt.UTC).strftime("%y%m%d%H%M%SZ").encode())
    later = _tlv(0x17, (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%y%m%d%H%M%SZ").encode())
    entries = [_tlv(0x30, _tlv(0x02, serial.to_bytes((serial.bit_length() + 8) // 8, "big")) + when)
               for serial in serials]
    entries += [_tlv(0x30, _tlv(0x02, (0x10000000 + i).to_bytes(4, "big")) + when) for i in range(filler)]
    algorithm = _tlv(0x30, _tlv(0x06, bytes.fromhex("2a864886f70d01010b")) + b"\x05\x00")  # sha256WithRSA
    tbs = _tlv(0x30, _tlv(0x02, b"\x01") + algorithm + issuer.cert.subject.public_bytes() + when + later
               + (_tlv(0x30, b"".join(entries)) if entries else b""))
    key = new_rsa() if forged else issuer.key
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(tbs, padding.PKCS1v15(), hashes.SHA256())
    return _tlv(0x30, tbs + algorithm + _tlv(0x03, b"\x00" + signature))


def _revocation_rows(report: Report, who: str) -> list[Any]:
    return [ev for ev in report.signatures[0].revocation if who in ev.certificate]


def test_a_forged_embedded_crl_is_not_read_nor_taken_as_evidence(verifier: Verifier, pki: TestPki) -> None:
    """A root CRL in the document, signed by a stranger, "revoking" the issuing CA among 20,000 entries.
    Old: every entry was read into a dict before any signature check (a 6.9 MB list of 300,000 took 7 s and
    400 MB), the forged list was reported as evidence ("revoked") and, being the only CRL looked at, made
    a good signature INDETERMINATE although the CA's real list was reachable. Now its signature is checked
    first: it is named as not evidence, and the real CRL decides."""
    from signing.testing import add_revocation_values

    forged = crl_of(pki.root, [pki.intermediate.cert.serial_number], filler=20_000, forged=True)
    signed = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good, crls=[forged])
    report = verifier.verify(signed)
    assert report.passed, report.render_text()
    rows = _revocation_rows(report, "LGSP Test Issuing CA")
    assert any(ev.status == "unknown" and "signature does not verify" in (ev.error or "") for ev in rows), rows
    assert not any(ev.status == "revoked" for ev in rows), rows
    assert any(ev.status == "good" and (ev.source or "").endswith("/crl/root.crl") for ev in rows), rows


def test_a_genuine_embedded_crl_still_decides_offline(verifier: Verifier, pki: TestPki, responder: Any) -> None:
    from signing.testing import add_revocation_values

    crl = crl_of(pki.root, [pki.intermediate.cert.serial_number], filler=100)
    signed = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good, crls=[crl])
    responder.ocsp_up = responder.crl_up = False
    report = verifier.verify(signed)
    assert report.signatures[0].sub_indication is not None
    assert report.signatures[0].sub_indication.value == "REVOKED_NO_POE", report.render_text()
    assert any(ev.status == "revoked" for ev in _revocation_rows(report, "LGSP Test Issuing CA"))


SMALL_CRLS = Policy(max_crl_bytes=16 * 1024)


def _over_crl_bound(report: Report) -> bool:
    errors = [*report.errors, *(e for s in report.signatures for e in s.errors)]
    return (report.indication.value == "TOTAL_FAILED" and "FORMAT_FAILURE" in {
        *(_subs(report)), report.sub_indication.value if report.sub_indication else ""}
        and any("max_crl_bytes" in e and str(SMALL_CRLS.max_crl_bytes) in e for e in errors))


def test_an_embedded_crl_over_the_bound_is_a_named_failure(trust: TrustStore, pki: TestPki) -> None:
    """Old: any size the document could hold (64 MB) was parsed entry by entry; now refused before parsing."""
    from signing.testing import add_revocation_values

    big = crl_of(pki.root, [], filler=2_000)  # about 46 KB, genuinely signed
    assert len(big) > SMALL_CRLS.max_crl_bytes
    signed = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good, crls=[big])
    assert _over_crl_bound(Verifier(trust, SMALL_CRLS).verify(signed))
    assert Verifier(trust, Policy()).verify(signed).passed  # under the default bound it is evidence as usual


def _pdf_with_dss(pki: TestPki, *, certs: list[bytes] | None = None, crls: list[bytes] | None = None,
                  ocsps: list[bytes] | None = None) -> bytes:
    import io

    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    signed = sign_pdf(minimal_pdf(), pki.good)
    contents = PdfFileReader(io.BytesIO(signed)).embedded_signatures[-1].pkcs7_content
    out = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(out, contents, certs=[asn1_x509.Certificate.load(c) for c in certs or []],
                                  ocsps=[asn1_ocsp.OCSPResponse.load(o) for o in ocsps or []],
                                  crls=[asn1_crl.CertificateList.load(c) for c in crls or []])
    return out.getvalue()


def test_a_dss_crl_over_the_bound_is_a_named_failure(trust: TrustStore, pki: TestPki) -> None:
    """Old: the DSS CRL was accepted at any size the decode budget allowed (64 MiB by default)."""
    signed = _pdf_with_dss(pki, crls=[crl_of(pki.root, [], filler=2_000)])
    assert _over_crl_bound(Verifier(trust, SMALL_CRLS).verify(signed, "application/pdf"))
    assert Verifier(trust, Policy()).verify(signed, "application/pdf").passed


def test_a_fetched_crl_over_the_bound_is_revocation_unknown(trust: TrustStore, pki: TestPki, responder: Any) -> None:
    """The CA's own list over the bound: not a fault of the document, so TRY_LATER naming the bound."""
    responder.ocsp_up = False
    responder.crl_override["/crl/intermediate.crl"] = crl_of(pki.intermediate, [], filler=2_000)
    try:
        report = Verifier(trust, SMALL_CRLS).verify(sign_xml(edxml_document(), pki.good))
    finally:
        responder.crl_override.clear()
    assert (report.indication.value, _subs(report)) == ("INDETERMINATE", {"TRY_LATER"}), report.render_text()
    assert any("max_crl_bytes" in (ev.error or "") for ev in _revocation_rows(report, "Nguyen Van A"))


def junk_certificates(count: int) -> list[x509.Certificate]:
    """Distinct self-signed EC certificates: certificates the sender adds for path building to try."""
    from cryptography.hazmat.primitives.asymmetric import ec

    now = dt.datetime.now(dt.UTC)
    out = []
    for index in range(count):
        key = ec.generate_private_key(ec.SECP256R1())
        name = cert_name(f"Junk CA {index}")
        out.append(x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
                   .not_valid_after(now + dt.timedelta(days=30)).sign(key, hashes.SHA256()))
    return out


def _refused(report: Report, *words: str) -> bool:
    errors = [*report.errors, *(e for s in report.signatures for e in s.errors)]
    subs = _subs(report) | ({report.sub_indication.value} if report.sub_indication else set())
    return (report.indication.value == "TOTAL_FAILED" and "FORMAT_FAILURE" in subs
            and any(all(w in e for w in words) for e in errors))


def _xades_values(pki: TestPki, *, certs: int = 0, ocsps: int = 0, keyinfo: int = 0) -> bytes:
    """A genuine XAdES-X-L signature whose unsigned CertificateValues / OCSPValues / KeyInfo gain copies."""
    import base64

    from lxml import etree

    from signing.testing import add_revocation_values

    signed = etree.fromstring(add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good))
    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
    for path, count in ((".//xades:CertificateValues", certs), (".//xades:OCSPValues", ocsps),
                        (".//ds:KeyInfo/ds:X509Data", keyinfo)):
        parent = signed.find(path, ns)
        assert parent is not None
        first = parent[0]
        if "CertificateValues" in path:  # distinct certificates: copies of one would prove nothing
            for cert in junk_certificates(count):
                clone = etree.fromstring(etree.tostring(first))
                clone.text = base64.b64encode(_der(cert)).decode()
                parent.append(clone)
            continue
        for _ in range(count):
            parent.append(etree.fromstring(etree.tostring(first)))
    return etree.tostring(signed)


def test_xades_certificate_values_are_capped(verifier: Verifier, pki: TestPki) -> None:
    """Old: any number was decoded and handed to path building, which tries every combination of
    certificates sharing a subject (28 such took 13 s of CPU, each two more double it)."""
    from signing.limits import MAX_CERTIFICATES, MAX_PATH_CERTIFICATES

    assert verifier.verify(_xades_values(pki, certs=3)).passed
    assert _refused(verifier.verify(_xades_values(pki, certs=MAX_CERTIFICATES)), "CertificateValues",
                    f"limit of {MAX_CERTIFICATES}")
    keyinfo = MAX_PATH_CERTIFICATES - MAX_CERTIFICATES + 1  # each under its own bound, over it together
    assert _refused(verifier.verify(_xades_values(pki, certs=MAX_CERTIFICATES - 2, keyinfo=keyinfo)),
                    "together", f"limit of {MAX_PATH_CERTIFICATES}")


def test_xades_revocation_values_are_capped(verifier: Verifier, pki: TestPki) -> None:
    from signing.limits import MAX_REVOCATION_VALUES

    assert verifier.verify(_xades_values(pki, ocsps=3)).passed
    assert _refused(verifier.verify(_xades_values(pki, ocsps=MAX_REVOCATION_VALUES)), "RevocationValues",
                    f"limit of {MAX_REVOCATION_VALUES}")


def test_pdf_dss_certificates_and_revocation_values_are_capped(verifier: Verifier, pki: TestPki) -> None:
    """Old: pyhanko decoded every DSS entry and every certificate went to path building."""
    from signing.limits import MAX_CERTIFICATES, MAX_REVOCATION_VALUES

    certs = _pdf_with_dss(pki, certs=[_der(c) for c in junk_certificates(MAX_CERTIFICATES + 1)])
    assert _refused(verifier.verify(certs, "application/pdf"), "DSS /Certs", f"limit of {MAX_CERTIFICATES}")
    crls = _pdf_with_dss(pki, crls=[crl_of(pki.root, [], filler=i) for i in range(MAX_REVOCATION_VALUES + 1)])
    assert _refused(verifier.verify(crls, "application/pdf"), "DSS", f"limit of {MAX_REVOCATION_VALUES}")
    assert verifier.verify(_pdf_with_dss(pki, certs=[_der(c) for c in junk_certificates(3)],
                                         crls=[crl_of(pki.root, [])]), "application/pdf").passed


def test_pdf_cms_certificates_are_capped(verifier: Verifier, pki: TestPki) -> None:
    from signing.limits import MAX_CERTIFICATES, MAX_PATH_CERTIFICATES

    def signer_carrying(extra: int) -> Identity:
        good = pki.good
        return Identity("carrier", good.key, good.cert, [good.issuers[0], *junk_certificates(extra), good.issuers[-1]])

    assert verifier.verify(sign_pdf(minimal_pdf(), signer_carrying(2)), "application/pdf").passed
    report = verifier.verify(sign_pdf(minimal_pdf(), signer_carrying(MAX_CERTIFICATES)), "application/pdf")
    assert _refused(report, "CMS", f"limit of {MAX_CERTIFICATES}")
    cms = MAX_PATH_CERTIFICATES - MAX_CERTIFICATES + 2  # signer + issuing CA + junk, under its own bound
    signed = sign_pdf(minimal_pdf(), signer_carrying(cms - 2))
    with_dss = _pdf_with_dss_on(signed, [_der(c) for c in junk_certificates(MAX_CERTIFICATES)])
    assert _refused(verifier.verify(with_dss, "application/pdf"), "together", f"limit of {MAX_PATH_CERTIFICATES}")


def _pdf_with_dss_on(signed: bytes, certs: list[bytes]) -> bytes:
    import io

    from asn1crypto import x509 as asn1_x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    contents = PdfFileReader(io.BytesIO(signed)).embedded_signatures[-1].pkcs7_content
    out = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(out, contents, certs=[asn1_x509.Certificate.load(c) for c in certs])
    return out.getvalue()


def with_revisions(signed: bytes, count: int) -> bytes:
    """``count`` incremental updates appended by hand (pyhanko's writer re-reads the file each time), each
    adding one small object: harmless changes, as LTV and form-filling updates are."""
    import io
    import re

    from pyhanko.pdf_utils.reader import PdfFileReader

    trailer = PdfFileReader(io.BytesIO(signed), strict=False).trailer
    size, root = int(trailer["/Size"]), trailer.raw_get("/Root").idnum
    previous = int(re.findall(rb"startxref\s+(\d+)", signed)[-1])
    out = bytearray(signed)
    for index in range(count):
        at = len(out)
        out += b"%d 0 obj\n<< /Nr %d >>\nendobj\n" % (size, index)
        xref = len(out)
        out += (b"xref\n0 1\n0000000000 65535 f \n%d 1\n%010d 00000 n \ntrailer\n<< /Size %d /Root %d 0 R /Prev %d >>"
                b"\nstartxref\n%d\n%%%%EOF\n" % (size, at, size + 1, root, previous, xref))
        size, previous = size + 1, xref
    return bytes(out)


def test_pdf_revisions_are_capped(verifier: Verifier, pki: TestPki) -> None:
    """Each signature's difference analysis walks every later revision, at a cost growing with the square of
    their number. Old: 1,000 one-object updates (165 KB) took 14 s for one signature, 3,000 (487 KB) 93 s —
    and were TOTAL_PASSED. Now over MAX_REVISIONS the document is refused before any signature is read."""
    from signing.limits import MAX_REVISIONS

    signed = sign_pdf(minimal_pdf(), pki.good)
    assert verifier.verify(with_revisions(signed, 5), "application/pdf").passed
    report = verifier.verify(with_revisions(signed, MAX_REVISIONS), "application/pdf")
    assert _refused(report, "revisions", f"limit of {MAX_REVISIONS}"), report.render_text()


def test_a_huge_signature_value_is_refused_with_a_bounded_message(verifier: Verifier, pki: TestPki) -> None:
    """5 MB of base64 in SignatureValue: refused at once (schema), but libxml2 quoted 64 KB of it in its
    message, which went into every rendering of the report (old). Messages are now cut to 2,000 characters."""
    from lxml import etree

    from signing.report import MAX_MESSAGE_CHARS

    for xades in (False, True):
        root = etree.fromstring(sign_xml(edxml_document(), pki.good, xades=xades))
        value = root.find(".//{http://www.w3.org/2000/09/xmldsig#}SignatureValue")
        assert value is not None
        value.text = (value.text or "") + "AAAA" * 1_250_000
        report = verifier.verify(etree.tostring(root))
        assert report.indication.value == "TOTAL_FAILED", report.indication
        errors = [e for s in report.signatures for e in s.errors]
        assert errors and all(len(e) < MAX_MESSAGE_CHARS + 100 for e in errors), [len(e) for e in errors]
        assert len(report.to_json()) < 3 * MAX_MESSAGE_CHARS + 10_000


def test_retrieval_method_is_never_fetched(verifier: Verifier, pki: TestPki, silent: SilentResponder) -> None:
    """A ds:RetrievalMethod names a URL to fetch the key from: never followed (it would let any sender make
    the bus connect anywhere). Beside X509Data the signature verifies; alone it has no signer."""
    from lxml import etree

    ds = "{http://www.w3.org/2000/09/xmldsig#}"
    root = etree.fromstring(sign_xml(edxml_document(), pki.good))
    key_info = root.find(f".//{ds}KeyInfo")
    assert key_info is not None
    etree.SubElement(key_info, f"{ds}RetrievalMethod", URI=f"{silent.url}/signer.der",
                     Type="http://www.w3.org/2000/09/xmldsig#rawX509Certificate")
    assert verifier.verify(etree.tostring(root)).passed
    for child in key_info.findall(f"{ds}X509Data"):
        key_info.remove(child)
    report = verifier.verify(etree.tostring(root))
    assert _subs(report) == {"NO_SIGNING_CERTIFICATE_FOUND"}
    assert silent.connections == []


def ocsp_with_answers(pki: TestPki, extra: int, certs: list[bytes] | None = None) -> bytes:
    """A genuine OCSP response of the issuing CA about the good signer, with ``extra`` answers about other
    serials before it, re-signed by the CA (builders write one answer per response)."""
    from asn1crypto import ocsp
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from signing.testing import ocsp_response_for

    response = ocsp.OCSPResponse.load(ocsp_response_for(pki, pki.good))
    basic = response["response_bytes"]["response"].parsed
    data = basic["tbs_response_data"]
    answer = data["responses"][0]
    others = []
    for index in range(extra):
        other = answer.copy()
        other["cert_id"]["serial_number"] = 0x7000_0000 + index
        others.append(other)
    tbs = ocsp.ResponseData({"version": data["version"], "responder_id": data["responder_id"],
                             "produced_at": data["produced_at"], "responses": [*others, answer]})
    key = pki.intermediate.key
    assert isinstance(key, rsa.RSAPrivateKey)
    signature = key.sign(tbs.dump(), padding.PKCS1v15(), hashes.SHA256())
    from asn1crypto import x509 as asn1_x509

    fields = {"tbs_response_data": tbs, "signature_algorithm": basic["signature_algorithm"], "signature": signature}
    if certs:
        fields["certs"] = [asn1_x509.Certificate.load(c) for c in certs]
    signed = ocsp.BasicOCSPResponse(fields)
    return ocsp.OCSPResponse({"response_status": "successful", "response_bytes": {
        "response_type": "basic_ocsp_response", "response": signed}}).dump()


def test_an_ocsp_response_with_thousands_of_answers_is_not_used(verifier: Verifier, pki: TestPki) -> None:
    """Old: certvalidator compared each answer with every other — 4,000 answers in one embedded response took
    4 s, 50,000 (6.5 MB) more than five minutes. Now one over MAX_OCSP_ANSWERS is named and not used."""
    from signing.revlimits import MAX_OCSP_ANSWERS
    from signing.testing import add_revocation_values

    few = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good,
                                ocsps=[ocsp_with_answers(pki, 3)])
    report = verifier.verify(few)
    assert report.passed and any(ev.source == "embedded (XAdES RevocationValues)" and ev.kind == "OCSP"
                                 for ev in _revocation_rows(report, "Nguyen Van A")), report.render_text()
    many = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good,
                                 ocsps=[ocsp_with_answers(pki, 1_500)])
    report = Verifier(verifier.trust, verifier.policy).verify(many)
    rows = _revocation_rows(report, "Nguyen Van A")
    assert any(f"limit of {MAX_OCSP_ANSWERS}" in (ev.error or "") for ev in rows), rows
    assert report.passed, report.render_text()  # the responder answered instead
    assert not any(ev.source == "embedded (XAdES RevocationValues)" and ev.status == "good" and ev.kind == "OCSP"
                   for ev in rows)


def test_time_stamp_token_certificates_are_capped(verifier: Verifier, pki: TestPki) -> None:
    """A time-stamp token's certificates go to path building for the TSA like a signer's: a XAdES-T token
    carrying 24 same-subject certificates cost 3 s of CPU on the old code (every two more double it), with
    no bound at all. Now the token's certificates are held to MAX_CERTIFICATES (XAdES-T, PDF)."""
    from signing.limits import MAX_CERTIFICATES
    from signing.testing import add_signature_timestamp

    def tsa_carrying(extra: int) -> Identity:
        tsa = pki.tsa
        return Identity("tsa-carrier", tsa.key, tsa.cert, [tsa.issuers[0], *junk_certificates(extra), tsa.issuers[-1]])

    xades = sign_xml(edxml_document(), pki.good, xades=True)
    assert verifier.verify(add_signature_timestamp(xades, tsa_carrying(2))).passed
    report = verifier.verify(add_signature_timestamp(xades, tsa_carrying(MAX_CERTIFICATES)))
    errors = [e for s in report.signatures for e in s.errors]
    assert not report.passed and any("time-stamp token" in e and f"limit of {MAX_CERTIFICATES}" in e
                                     for e in errors), errors
    assert verifier.verify(sign_pdf(minimal_pdf(), pki.good, tsa=tsa_carrying(2)), "application/pdf").passed
    report = verifier.verify(sign_pdf(minimal_pdf(), pki.good, tsa=tsa_carrying(MAX_CERTIFICATES)), "application/pdf")
    assert _refused(report, "time-stamp token", f"limit of {MAX_CERTIFICATES}"), report.render_text()


def test_an_ocsp_response_carrying_many_certificates_is_not_used(verifier: Verifier, pki: TestPki) -> None:
    """An OCSP response's certificates join the registry every later path is built from: one embedded with
    17 certificates was used on the old code, now it is named and not used (the responder answers)."""
    from signing.limits import MAX_CERTIFICATES
    from signing.testing import add_revocation_values

    junk = [_der(c) for c in junk_certificates(MAX_CERTIFICATES + 1)]
    signed = add_revocation_values(sign_xml(edxml_document(), pki.good, xades=True), pki, pki.good,
                                   ocsps=[ocsp_with_answers(pki, 0, junk)])
    report = verifier.verify(signed)
    rows = _revocation_rows(report, "Nguyen Van A")
    assert any("certificates" in (ev.error or "") and f"limit of {MAX_CERTIFICATES}" in (ev.error or "")
               for ev in rows), rows
    assert report.passed, report.render_text()
