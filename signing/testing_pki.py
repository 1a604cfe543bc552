"""The throw-away test PKI: root, intermediate and one signer of every kind a verifier must tell apart,
plus the CRLs and OCSP answers its CAs give (see :mod:`signing.testing`, the import path for tests).
"""

from __future__ import annotations

import datetime as dt
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
