"""Signed PDF fixtures made with the test PKI: a minimal hand-written PDF, PAdES signatures, document
timestamps and a DSS (PAdES-LT).
"""

from __future__ import annotations

import datetime as dt

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization

from signing.testing_pki import Identity, TestPki, ocsp_response_for


def minimal_pdf(text: str = "Quyet dinh so 123/QD-UBND") -> bytes:
    """A one-page PDF with a correct xref table, written by hand so fixtures need no PDF toolkit."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref_at)
    return bytes(out)


def sign_pdf(data: bytes, signer: Identity, *, field_name: str = "Signature1", tsa: Identity | None = None,
             timestamp_at: dt.datetime | None = None) -> bytes:
    """Add one PAdES signature as an incremental update (call twice for person + organisation)."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import signers
    from pyhanko.sign.fields import SigSeedSubFilter
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    intermediates = [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in signer.chain[1:]]
    pdf_signer = signers.SimpleSigner(signing_cert=signer.asn1_cert, signing_key=signer.asn1_key,
                                      cert_registry=SimpleCertificateStore.from_certs(intermediates))
    timestamper = None
    if tsa is not None:
        timestamper = DummyTimeStamper(tsa_cert=tsa.asn1_cert, tsa_key=tsa.asn1_key, fixed_dt=timestamp_at,
                                       certs_to_embed=SimpleCertificateStore.from_certs(
                                           [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                                            for c in tsa.chain[1:]]))
    meta = signers.PdfSignatureMetadata(field_name=field_name, subfilter=SigSeedSubFilter.PADES)
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    out = signers.sign_pdf(writer, meta, signer=pdf_signer, timestamper=timestamper)
    return out.getvalue()


def timestamp_pdf(data: bytes, tsa: Identity, field_name: str = "LuuTru") -> bytes:
    """Append a document timestamp (PAdES-LTA style /DocTimeStamp) as an incremental update."""
    import io

    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    stamper = DummyTimeStamper(tsa_cert=tsa.asn1_cert, tsa_key=tsa.asn1_key,
                               certs_to_embed=SimpleCertificateStore.from_certs(
                                   [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
                                    for c in tsa.chain[1:]]))
    writer = IncrementalPdfFileWriter(io.BytesIO(data), strict=False)
    out = PdfTimeStamper(stamper, field_name=field_name).timestamp_pdf(writer, "sha256")
    return bytes(out.getvalue())


def add_dss(signed: bytes, pki: TestPki, signer: Identity) -> bytes:
    """PAdES-LT: a DSS (with VRI for the last signature) holding the signer's OCSP response and the CRLs."""
    import io

    from asn1crypto import crl as asn1_crl
    from asn1crypto import ocsp as asn1_ocsp
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(io.BytesIO(signed))
    contents = reader.embedded_signatures[-1].pkcs7_content
    out = io.BytesIO(signed)
    DocumentSecurityStore.add_dss(
        out, contents,
        certs=[asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in signer.issuers],
        ocsps=[asn1_ocsp.OCSPResponse.load(ocsp_response_for(pki, signer))],
        crls=[asn1_crl.CertificateList.load(pki.crl(pki.intermediate)),
              asn1_crl.CertificateList.load(pki.crl(pki.root))])
    return out.getvalue()
