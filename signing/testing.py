"""A throw-away PKI for tests and benchmarks, plus a real CRL/OCSP responder app.

Tests must exercise real crypto and real HTTP, and must never commit private keys. So everything here is
generated at run time with ``cryptography``: root → intermediate → signers of every kind a verifier must
tell apart (good, revoked, expired, wrong key usage, untrusted root, weak key, EC, TSA). The responder is a
plain ASGI app; callers serve it on 127.0.0.1 (e.g. with ``lgsp.testing.servers.start_server``) and pass
its URL in, because the URLs are baked into the certificates' CRL DP / AIA extensions.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey
UTC = dt.UTC


@dataclass
class Identity:
    """A key pair with its certificate and the CA certificates above it (issuer first, root last)."""

    name: str
    key: PrivateKey
    cert: x509.Certificate
    issuers: list[x509.Certificate] = field(default_factory=list)

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def chain(self) -> list[x509.Certificate]:
        """Signer certificate then its intermediates (not the root): what a signature embeds."""
        return [self.cert, *self.issuers[:-1]]

    @property
    def asn1_cert(self) -> asn1_x509.Certificate:
        return asn1_x509.Certificate.load(self.cert.public_bytes(serialization.Encoding.DER))

    @property
    def asn1_key(self) -> asn1_keys.PrivateKeyInfo:
        der = self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return asn1_keys.PrivateKeyInfo.load(der)


def cert_name(cn: str, org: str = "LGSP Test PKI") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def key_usage(*, sign: bool = False, nr: bool = False, enc: bool = False, ca: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign, content_commitment=nr, key_encipherment=enc, data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False, decipher_only=False,
    )


def new_rsa(bits: int = 2048) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


@dataclass
class TestPki:
    """All identities of one generated PKI; ``base_url`` is where the responder serves CRLs and OCSP."""

    __test__ = False  # not a pytest test class

    base_url: str
    root: Identity
    intermediate: Identity
    good: Identity
    revoked: Identity
    expired: Identity
    wrong_key_usage: Identity
    untrusted: Identity
    untrusted_root: Identity
    weak_key: Identity
    ec: Identity
    tsa: Identity
    ed25519: Identity
    ed448: Identity
    revoked_serials: set[int]
    by_serial: dict[int, Identity]

    @property
    def root_pem(self) -> bytes:
        return self.root.cert_pem

    def crl(self, issuer: Identity, next_update: dt.timedelta = dt.timedelta(hours=1)) -> bytes:
        """A freshly signed CRL of ``issuer`` listing the revoked serials it issued."""
        now = dt.datetime.now(UTC)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(issuer.cert.subject)
            .last_update(now - dt.timedelta(minutes=1))
            .next_update(now + next_update)
        )
        for serial in sorted(self.revoked_serials):
            holder = self.by_serial[serial]
            if holder.issuers and holder.issuers[0] == issuer.cert:
                builder = builder.add_revoked_certificate(
                    x509.RevokedCertificateBuilder()
                    .serial_number(serial)
                    .revocation_date(now - dt.timedelta(days=1))
                    .build()
                )
        return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    def ocsp_response(self, request_der: bytes, *, echo_nonce: bool = True) -> bytes:
        """Answer an OCSP request as the issuing CA itself (RFC 6960 allows the CA to sign directly)."""
        request = ocsp.load_der_ocsp_request(request_der)
        issuer = self.intermediate if request.issuer_key_hash == _key_hash(self.intermediate, request) else None
        if issuer is None and request.issuer_key_hash == _key_hash(self.root, request):
            issuer = self.root
        if issuer is None:
            return ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.UNAUTHORIZED).public_bytes(
                serialization.Encoding.DER
            )
        now = dt.datetime.now(UTC)
        serial = request.serial_number
        known = serial in self.by_serial
        if serial in self.revoked_serials:
            status, rev_time = ocsp.OCSPCertStatus.REVOKED, now - dt.timedelta(days=1)
        elif known:
            status, rev_time = ocsp.OCSPCertStatus.GOOD, None
        else:
            status, rev_time = ocsp.OCSPCertStatus.UNKNOWN, None
        builder = ocsp.OCSPResponseBuilder().add_response_by_hash(
            issuer_name_hash=request.issuer_name_hash,
            issuer_key_hash=request.issuer_key_hash,
            serial_number=serial,
            algorithm=request.hash_algorithm,
            cert_status=status,
            this_update=now - dt.timedelta(minutes=1),
            next_update=now + dt.timedelta(hours=1),
            revocation_time=rev_time,
            revocation_reason=None,
        ).responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        if echo_nonce:
            for ext in request.extensions:
                if isinstance(ext.value, x509.OCSPNonce):
                    builder = builder.add_extension(ext.value, critical=False)
        return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _key_hash(identity: Identity, request: ocsp.OCSPRequest) -> bytes:
    digest = hashes.Hash(request.hash_algorithm)
    spki = identity.cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # The key hash covers the BIT STRING contents of subjectPublicKey, i.e. SPKI minus its header.
    from asn1crypto.keys import PublicKeyInfo

    digest.update(PublicKeyInfo.load(spki)["public_key"].contents[1:])
    return digest.finalize()


class Issuer:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.now = dt.datetime.now(UTC)

    def issue(
        self,
        name: str,
        subject: x509.Name,
        key: PrivateKey,
        issuer: Identity | None,
        *,
        ca: bool = False,
        ku: x509.KeyUsage,
        eku: list[x509.ObjectIdentifier] | None = None,
        not_before: dt.datetime | None = None,
        not_after: dt.datetime | None = None,
        crl_name: str | None = None,
        ocsp_url: bool = False,
        policies: list[str] | None = None,
    ) -> Identity:
        signing_key = issuer.key if issuer else key
        issuer_name = issuer.cert.subject if issuer else subject
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before or self.now - dt.timedelta(days=1))
            .not_valid_after(not_after or self.now + dt.timedelta(days=3650 if ca else 730))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=(None if issuer is None else 0) if ca else None),
                           critical=True)
            .add_extension(ku, critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if issuer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
            )
        if eku:
            builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=True)
        if policies:
            builder = builder.add_extension(x509.CertificatePolicies([
                x509.PolicyInformation(x509.ObjectIdentifier(oid), None) for oid in policies]), critical=False)
        if crl_name:
            builder = builder.add_extension(
                x509.CRLDistributionPoints([
                    x509.DistributionPoint(
                        full_name=[x509.UniformResourceIdentifier(f"{self.base_url}/crl/{crl_name}.crl")],
                        relative_name=None, reasons=None, crl_issuer=None,
                    )
                ]),
                critical=False,
            )
        if ocsp_url:
            builder = builder.add_extension(
                x509.AuthorityInformationAccess([
                    x509.AccessDescription(
                        x509.oid.AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(f"{self.base_url}/ocsp"),
                    )
                ]),
                critical=False,
            )
        cert = builder.sign(signing_key, hashes.SHA256())
        issuers = [issuer.cert, *issuer.issuers] if issuer else []
        return Identity(name, key, cert, issuers)


# The names tests used before these helpers were public.
_Issuer, _ku, _name = Issuer, key_usage, cert_name


def build_pki(base_url: str) -> TestPki:
    """Generate a complete PKI whose revocation URLs point at ``base_url`` (the responder)."""
    mk = Issuer(base_url)
    root_key = new_rsa()
    root = mk.issue("root", cert_name("LGSP Test Root CA"), root_key, None, ca=True, ku=key_usage(ca=True))
    inter = mk.issue("intermediate", cert_name("LGSP Test Issuing CA"), new_rsa(), root, ca=True, ku=key_usage(ca=True),
                     crl_name="root")

    def leaf(name: str, cn: str, key: PrivateKey | None = None, **kw: Any) -> Identity:
        kw.setdefault("ku", key_usage(sign=True, nr=True))
        return mk.issue(name, cert_name(cn, "So Thong tin va Truyen thong Can Tho"), key or new_rsa(), inter,
                        crl_name="intermediate", ocsp_url=True, **kw)

    good = leaf("good", "Nguyen Van A")
    revoked = leaf("revoked", "Tran Thi Revoked")
    expired = leaf("expired", "Le Van Expired", not_before=mk.now - dt.timedelta(days=730),
                   not_after=mk.now - dt.timedelta(days=365))
    wrong_ku = leaf("wrong_key_usage", "Pham Encrypt Only", ku=key_usage(enc=True))
    weak = leaf("weak_key", "Vo Weak Key", key=new_rsa(1024))
    ec_signer = leaf("ec", "He Thong QLVB", key=ec.generate_private_key(ec.SECP256R1()))
    tsa = leaf("tsa", "LGSP Test TSA", ku=key_usage(sign=True), eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    rogue_root = mk.issue("untrusted_root", cert_name("Rogue Root CA", "Nobody"), new_rsa(), None, ca=True,
                          ku=key_usage(ca=True))
    untrusted = mk.issue("untrusted", cert_name("Mallory", "Nobody"), new_rsa(), rogue_root,
                         ku=key_usage(sign=True, nr=True))
    ed25519_signer = leaf("ed25519", "Ky So Ed25519", key=ed25519.Ed25519PrivateKey.generate())
    ed448_signer = leaf("ed448", "Ky So Ed448", key=ed448.Ed448PrivateKey.generate())
    everyone = [root, inter, good, revoked, expired, wrong_ku, weak, ec_signer, tsa, rogue_root, untrusted,
                ed25519_signer, ed448_signer]
    return TestPki(
        base_url=mk.base_url, root=root, intermediate=inter, good=good, revoked=revoked, expired=expired,
        wrong_key_usage=wrong_ku, untrusted=untrusted, untrusted_root=rogue_root, weak_key=weak, ec=ec_signer,
        tsa=tsa, ed25519=ed25519_signer, ed448=ed448_signer, revoked_serials={revoked.cert.serial_number},
        by_serial={i.cert.serial_number: i for i in everyone},
    )


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RevocationResponder:
    """ASGI app serving ``GET /crl/{root,intermediate}.crl`` and ``POST /ocsp`` for a :class:`TestPki`.

    Switches let tests break it the way real responders break: ``ocsp_up``/``crl_up`` False answers 503,
    ``echo_nonce`` False drops the nonce. ``hits`` counts requests per path, so tests can prove caching.
    """

    def __init__(self) -> None:
        self.pki: TestPki | None = None
        self.ocsp_up = True
        self.crl_up = True
        self.echo_nonce = True
        self.crl_next_update = dt.timedelta(hours=1)
        self.crl_override: dict[str, bytes] = {}  # path -> CRL bytes served instead of the real list
        self.hits: dict[str, int] = {}

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        path: str = scope["path"]
        self.hits[path] = self.hits.get(path, 0) + 1
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, content_type, payload = self._answer(scope["method"], path, body)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", content_type.encode())]})
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, method: str, path: str, body: bytes) -> tuple[int, str, bytes]:
        pki = self.pki
        if pki is None:
            return 503, "text/plain", b"PKI not ready"
        if path.startswith("/crl/") and method == "GET":
            if not self.crl_up:
                return 503, "text/plain", b"CRL service down"
            if path in self.crl_override:
                return 200, "application/pkix-crl", self.crl_override[path]
            issuer = {"/crl/root.crl": pki.root, "/crl/intermediate.crl": pki.intermediate}.get(path)
            if issuer is None:
                return 404, "text/plain", b"no such CRL"
            return 200, "application/pkix-crl", pki.crl(issuer, self.crl_next_update)
        if path == "/ocsp" and method == "POST":
            if not self.ocsp_up:
                return 503, "text/plain", b"OCSP service down"
            return 200, "application/ocsp-response", pki.ocsp_response(body, echo_nonce=self.echo_nonce)
        return 404, "text/plain", b"not found"


# --- signed fixtures: what tests and the benchmark verify ------------------------------------------------

EDXML_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<edXML xmlns="http://www.mic.gov.vn/TBT/QCVN_102_2016"><edXMLEnvelope><edXMLHeader><MessageHeader>
<From><OrganId>000.00.12.H10</OrganId><OrganName>UBND thanh pho Can Tho</OrganName></From>
<To><OrganId>000.00.00.G22</OrganId><OrganName>Van phong Chinh phu</OrganName></To>
<DocumentId>000.00.12.H10,2026/11/26,123/UBND-VP</DocumentId>
<Code><CodeNumber>123</CodeNumber><CodeNotation>UBND-VP</CodeNotation></Code>
<Subject>Ve viec trien khai LGSP</Subject>{filler}
</MessageHeader><TraceHeaderList><TraceHeader><OrganId>000.00.12.H10</OrganId>
<Timestamp>2026/11/26 09:00:00</Timestamp></TraceHeader></TraceHeaderList></edXMLHeader>
<edXMLBody><edXMLManifest version="1.0"><Reference><ContentId>cid:att-1</ContentId>
<AttachmentName>quyet-dinh.pdf</AttachmentName></Reference></edXMLManifest></edXMLBody></edXMLEnvelope>
<AttachmentEncoded><Attachment><ContentId>att-1</ContentId><AttachmentName>quyet-dinh.pdf</AttachmentName>
<ContentType>application/pdf</ContentType><ContentTransferEncoded>JVBERi0xLjQK</ContentTransferEncoded></Attachment>
</AttachmentEncoded></edXML>"""


def edxml_document(filler_bytes: int = 0) -> bytes:
    """An unsigned edXML edoc packet (QCVN 102:2016 skeleton); ``filler_bytes`` pads the Content element."""
    filler = f"<Content>{'Noi dung van ban. ' * (filler_bytes // 18)}</Content>" if filler_bytes else ""
    return EDXML_TEMPLATE.format(filler=filler).encode()


def sign_xml(data: bytes, signer: Identity, *, legacy_sha1: bool = False, xades: bool = False,
             reference_uri: str | None = None, default_namespace: bool = False, tsa: Identity | None = None,
             timestamp_at: dt.datetime | None = None, exclusive_c14n: bool = False) -> bytes:
    """Enveloped XML-DSig over the whole document (or ``reference_uri``), placed in edXMLHeader if present.

    ``xades`` makes it XAdES-BES; with a ``tsa`` too, XAdES-T (a SignatureTimeStamp over SignatureValue).
    """
    from lxml import etree
    from signxml import DigestAlgorithm, SignatureMethod, XMLSigner
    from signxml.xades import XAdESSigner

    root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    edxml_ns = "http://www.mic.gov.vn/TBT/QCVN_102_2016"
    header = root.find(f".//{{{edxml_ns}}}edXMLHeader")
    ds_ns = "http://www.w3.org/2000/09/xmldsig#"
    if not xades:  # signxml's XAdES signer appends its own Signature to the root
        etree.SubElement(header if header is not None else root, f"{{{ds_ns}}}Signature", Id="placeholder",
                         nsmap={None: ds_ns} if default_namespace else {"ds": ds_ns})
    is_ec = isinstance(signer.key, ec.EllipticCurvePrivateKey)
    method = SignatureMethod.RSA_SHA1 if legacy_sha1 else (
        SignatureMethod.ECDSA_SHA256 if is_ec else SignatureMethod.RSA_SHA256)
    digest = DigestAlgorithm.SHA1 if legacy_sha1 else DigestAlgorithm.SHA256
    from .c14n import CorrectInclusiveC14N

    class _Signer(CorrectInclusiveC14N, XAdESSigner if xades else XMLSigner):  # type: ignore[misc]
        def check_deprecated_methods(self) -> None:
            """Legacy edXML senders still sign with rsa-sha1: fixtures must be able to do so too."""

    # Canonicalisation as in PROTOCOLS §1.4: C14N 1.0 (legacy), or exclusive C14N when asked.
    c14n = "http://www.w3.org/2001/10/xml-exc-c14n#" if exclusive_c14n else "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    xml_signer = _Signer(signature_algorithm=method, digest_algorithm=digest, c14n_algorithm=c14n)
    if default_namespace:
        xml_signer.namespaces = {None: ds_ns}
    certs = [c.public_bytes(serialization.Encoding.PEM).decode() for c in signer.chain]
    kwargs: dict[str, Any] = {"key": signer.key_pem, "cert": certs}
    if reference_uri:
        kwargs["reference_uri"] = reference_uri
    signed = etree.tostring(xml_signer.sign(root, **kwargs), xml_declaration=True, encoding="UTF-8")
    if xades and tsa is not None:
        signed = add_signature_timestamp(signed, tsa, timestamp_at)
    return signed


def add_signature_timestamp(signed: bytes, tsa: Identity, at: dt.datetime | None = None) -> bytes:
    """Turn XAdES-BES into XAdES-T: an RFC 3161 token over the inclusive-C14N SignatureValue element."""
    import asyncio
    import base64
    import hashlib

    from lxml import etree
    from pyhanko.sign.timestamps import DummyTimeStamper
    from pyhanko_certvalidator.registry import SimpleCertificateStore

    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
    root = etree.fromstring(signed, etree.XMLParser(resolve_entities=False, no_network=True))
    value = root.find(".//ds:Signature/ds:SignatureValue", ns)
    qualifying = root.find(".//ds:Signature/ds:Object/xades:QualifyingProperties", ns)
    assert value is not None and qualifying is not None, "not a XAdES signature"
    digest = hashlib.sha256(etree.tostring(value, method="c14n", exclusive=False, with_comments=False)).digest()
    stamper = DummyTimeStamper(
        tsa_cert=tsa.asn1_cert, tsa_key=tsa.asn1_key, fixed_dt=at,
        certs_to_embed=SimpleCertificateStore.from_certs(
            [asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER)) for c in tsa.chain[1:]]))
    token = asyncio.run(stamper.async_timestamp(digest, "sha256"))
    x = "{" + ns["xades"] + "}"
    unsigned = etree.SubElement(qualifying, x + "UnsignedProperties")
    stamp = etree.SubElement(etree.SubElement(unsigned, x + "UnsignedSignatureProperties"), x + "SignatureTimeStamp")
    etree.SubElement(stamp, "{" + ns["ds"] + "}CanonicalizationMethod",
                     Algorithm="http://www.w3.org/TR/2001/REC-xml-c14n-20010315")
    etree.SubElement(stamp, x + "EncapsulatedTimeStamp").text = base64.b64encode(token.dump()).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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


def sign_jws(payload: bytes, signer: Identity, *, alg: str | None = None, x5c: bool = True,
             kid: str | None = None, json_form: bool = False) -> str:
    """A JWS by ``signer`` with its chain in ``x5c`` (or only a ``kid`` for registry-key lookups)."""
    import base64
    import json as _json

    from joserfc import jws as _jws
    from joserfc.jwk import ECKey, RSAKey

    is_ec = isinstance(signer.key, ec.EllipticCurvePrivateKey)
    key = ECKey.import_key(signer.key_pem) if is_ec else RSAKey.import_key(signer.key_pem)
    header: dict[str, Any] = {"alg": alg or ("ES256" if is_ec else "RS256")}
    if x5c:
        header["x5c"] = [base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode() for c in signer.chain]
    if kid:
        header["kid"] = kid
    if json_form:
        return _json.dumps(_jws.serialize_json([{"protected": header}], payload, key))  # general form
    return _jws.serialize_compact(header, payload, key)


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


def reencoding_sensitive_copy(ca: Identity, issuer: Identity) -> bytes:
    """``ca``'s certificate re-issued by ``issuer`` so that any re-encoding breaks its signature.

    The TBSCertificate is built with asn1crypto and gains issuer/subject unique identifiers whose BIT
    STRINGs have unused bits (asn1crypto serialises those differently when it re-encodes); the outer
    SEQUENCE uses an indefinite (BER) length, which makes a plain ``dump()`` re-encode the whole tree.
    The issuer's signature is made with ``cryptography`` over the exact TBS bytes. Same key and subject as
    ``ca``, so certificates ``ca`` issued chain through this copy.
    """
    from asn1crypto import x509 as ax
    from cryptography.hazmat.primitives.asymmetric import padding

    source = ax.Certificate.load(ca.cert.public_bytes(serialization.Encoding.DER))
    fields = ("version", "serial_number", "signature", "issuer", "validity", "subject", "subject_public_key_info",
              "extensions")
    tbs = ax.TbsCertificate({**{name: source["tbs_certificate"][name] for name in fields},
                             "issuer_unique_id": b"\x01\x02", "subject_unique_id": b"\x03\x04"})
    raw = tbs.dump()
    # [1] IMPLICIT BIT STRING: 4 unused bits; [2]: 1 unused bit (DER allows both when the bits are zero).
    raw = raw.replace(b"\x81\x03\x00\x01\x02", b"\x81\x03\x04\x01\x20", 1).replace(
        b"\x82\x03\x00\x03\x04", b"\x82\x03\x01\x03\x04", 1)
    assert isinstance(issuer.key, rsa.RSAPrivateKey)
    signature = issuer.key.sign(raw, padding.PKCS1v15(), hashes.SHA256())
    algorithm = source["signature_algorithm"].dump()
    value = core_bit_string(signature)
    return b"\x30\x80" + raw + algorithm + value + b"\x00\x00"


def core_bit_string(data: bytes) -> bytes:
    from asn1crypto import core

    return bytes(core.OctetBitString(data).dump())


def ocsp_response_for(pki: TestPki, signer: Identity) -> bytes:
    """A stored (nonce-less) OCSP response about ``signer`` from its issuing CA, as an LT signature embeds."""
    request = ocsp.OCSPRequestBuilder().add_certificate(signer.cert, signer.issuers[0], hashes.SHA256()).build()
    return pki.ocsp_response(request.public_bytes(serialization.Encoding.DER), echo_nonce=False)


def add_revocation_values(signed: bytes, pki: TestPki, signer: Identity, *, crls: list[bytes] | None = None,
                          ocsps: list[bytes] | None = None) -> bytes:
    """XAdES-BES → XAdES-X-L style: ``CertificateValues`` and ``RevocationValues`` in the unsigned properties.

    Default evidence: an OCSP response for the signer and the CRLs of the intermediate and root CAs, which is
    everything a verifier needs offline.
    """
    import base64

    from lxml import etree

    ns = {"ds": "http://www.w3.org/2000/09/xmldsig#", "xades": "http://uri.etsi.org/01903/v1.3.2#"}
    x = "{" + ns["xades"] + "}"
    root = etree.fromstring(signed, etree.XMLParser(resolve_entities=False, no_network=True))
    qualifying = root.find(".//ds:Signature/ds:Object/xades:QualifyingProperties", ns)
    assert qualifying is not None, "not a XAdES signature"
    unsigned = qualifying.find("xades:UnsignedProperties", ns)
    if unsigned is None:
        unsigned = etree.SubElement(qualifying, x + "UnsignedProperties")
    props = unsigned.find("xades:UnsignedSignatureProperties", ns)
    if props is None:
        props = etree.SubElement(unsigned, x + "UnsignedSignatureProperties")
    cert_values = etree.SubElement(props, x + "CertificateValues")
    for cert in signer.issuers[:-1]:
        etree.SubElement(cert_values, x + "EncapsulatedX509Certificate").text = base64.b64encode(
            cert.public_bytes(serialization.Encoding.DER)).decode()
    values = etree.SubElement(props, x + "RevocationValues")
    crl_values = etree.SubElement(values, x + "CRLValues")
    for blob in crls if crls is not None else [pki.crl(pki.intermediate), pki.crl(pki.root)]:
        etree.SubElement(crl_values, x + "EncapsulatedCRLValue").text = base64.b64encode(blob).decode()
    ocsp_values = etree.SubElement(values, x + "OCSPValues")
    for blob in ocsps if ocsps is not None else [ocsp_response_for(pki, signer)]:
        etree.SubElement(ocsp_values, x + "EncapsulatedOCSPValue").text = base64.b64encode(blob).decode()
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


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


def sign_detached_xml(document: bytes, uri: str, signer: Identity) -> bytes:
    """A detached XML-DSig over an external document (``Reference URI="van-ban.pdf"``), built by hand from
    XML-DSig §4.4.3 (signxml cannot sign non-XML bytes detached): SHA-256 reference digest, exclusive C14N of
    SignedInfo, RSA-SHA256, the signer's chain in KeyInfo."""
    import base64
    import hashlib

    from cryptography.hazmat.primitives.asymmetric import padding
    from lxml import etree

    assert isinstance(signer.key, rsa.RSAPrivateKey)
    ds = "http://www.w3.org/2000/09/xmldsig#"
    d = "{" + ds + "}"
    signature = etree.Element(d + "Signature", nsmap={"ds": ds})
    info = etree.SubElement(signature, d + "SignedInfo")
    etree.SubElement(info, d + "CanonicalizationMethod", Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#")
    etree.SubElement(info, d + "SignatureMethod", Algorithm="http://www.w3.org/2001/04/xmldsig-more#rsa-sha256")
    reference = etree.SubElement(info, d + "Reference", URI=uri)
    etree.SubElement(reference, d + "DigestMethod", Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    etree.SubElement(reference, d + "DigestValue").text = base64.b64encode(hashlib.sha256(document).digest()).decode()
    signed_info = etree.tostring(info, method="c14n", exclusive=True)
    value = signer.key.sign(signed_info, padding.PKCS1v15(), hashes.SHA256())
    etree.SubElement(signature, d + "SignatureValue").text = base64.b64encode(value).decode()
    data = etree.SubElement(etree.SubElement(signature, d + "KeyInfo"), d + "X509Data")
    for cert in signer.chain:
        etree.SubElement(data, d + "X509Certificate").text = base64.b64encode(
            cert.public_bytes(serialization.Encoding.DER)).decode()
    return etree.tostring(signature, xml_declaration=True, encoding="UTF-8")


def sign_detached_jws(payload: bytes, signer: Identity) -> str:
    """A compact JWS with detached content (RFC 7515 Appendix F): ``header..signature``."""
    header, _, signature = sign_jws(payload, signer).split(".")
    return f"{header}..{signature}"
