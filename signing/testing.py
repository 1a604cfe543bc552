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
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
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


def _name(cn: str, org: str = "LGSP Test PKI") -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def _ku(*, sign: bool = False, nr: bool = False, enc: bool = False, ca: bool = False) -> x509.KeyUsage:
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


class _Issuer:
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
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None if ca and issuer is None else (0 if ca else None)),
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


def build_pki(base_url: str) -> TestPki:
    """Generate a complete PKI whose revocation URLs point at ``base_url`` (the responder)."""
    mk = _Issuer(base_url)
    root_key = new_rsa()
    root = mk.issue("root", _name("LGSP Test Root CA"), root_key, None, ca=True, ku=_ku(ca=True))
    inter = mk.issue("intermediate", _name("LGSP Test Issuing CA"), new_rsa(), root, ca=True, ku=_ku(ca=True),
                     crl_name="root")

    def leaf(name: str, cn: str, key: PrivateKey | None = None, **kw: Any) -> Identity:
        kw.setdefault("ku", _ku(sign=True, nr=True))
        return mk.issue(name, _name(cn, "So Thong tin va Truyen thong Can Tho"), key or new_rsa(), inter,
                        crl_name="intermediate", ocsp_url=True, **kw)

    good = leaf("good", "Nguyen Van A")
    revoked = leaf("revoked", "Tran Thi Revoked")
    expired = leaf("expired", "Le Van Expired", not_before=mk.now - dt.timedelta(days=730),
                   not_after=mk.now - dt.timedelta(days=365))
    wrong_ku = leaf("wrong_key_usage", "Pham Encrypt Only", ku=_ku(enc=True))
    weak = leaf("weak_key", "Vo Weak Key", key=new_rsa(1024))
    ec_signer = leaf("ec", "He Thong QLVB", key=ec.generate_private_key(ec.SECP256R1()))
    tsa = leaf("tsa", "LGSP Test TSA", ku=_ku(sign=True), eku=[ExtendedKeyUsageOID.TIME_STAMPING])
    rogue_root = mk.issue("untrusted_root", _name("Rogue Root CA", "Nobody"), new_rsa(), None, ca=True,
                          ku=_ku(ca=True))
    untrusted = mk.issue("untrusted", _name("Mallory", "Nobody"), new_rsa(), rogue_root, ku=_ku(sign=True, nr=True))
    everyone = [root, inter, good, revoked, expired, wrong_ku, weak, ec_signer, tsa, rogue_root, untrusted]
    return TestPki(
        base_url=mk.base_url, root=root, intermediate=inter, good=good, revoked=revoked, expired=expired,
        wrong_key_usage=wrong_ku, untrusted=untrusted, untrusted_root=rogue_root, weak_key=weak, ec=ec_signer,
        tsa=tsa, revoked_serials={revoked.cert.serial_number},
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
            issuer = {"/crl/root.crl": pki.root, "/crl/intermediate.crl": pki.intermediate}.get(path)
            if issuer is None:
                return 404, "text/plain", b"no such CRL"
            return 200, "application/pkix-crl", pki.crl(issuer, self.crl_next_update)
        if path == "/ocsp" and method == "POST":
            if not self.ocsp_up:
                return 503, "text/plain", b"OCSP service down"
            return 200, "application/ocsp-response", pki.ocsp_response(body, echo_nonce=self.echo_nonce)
        return 404, "text/plain", b"not found"
