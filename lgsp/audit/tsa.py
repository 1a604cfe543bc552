"""Optional RFC 3161 timestamps over signed tree heads, and a test TSA to run on 127.0.0.1.

Why: a head's own timestamp is the gateway's word. A token from an independent time-stamping
authority proves the head — root *and* signature — existed no later than the TSA's time, so even a
compromised log key cannot later mint a convincing back-dated history. The message imprint is
:meth:`SignedTreeHead.tsa_imprint` = SHA-256(signed bytes || signature).

The protocol work is pyHanko's (request building, nonce check, CMS/TST validation); this module only
binds it to heads. Verification is offline: trust roots are given, fetching is disabled.
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import cms, keys, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.sign.timestamps.aiohttp_client import HTTPTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from lgsp.audit.sth import SignedTreeHead

__all__ = [
    "TestTsa",
    "TimestampError",
    "TimestampVerdict",
    "TsaClient",
    "load_certificates",
    "verify_head_token",
]


class TimestampError(ValueError):
    """A timestamp token could not be obtained, or does not verify for this head."""


@dataclass(frozen=True)
class TimestampVerdict:
    """What a verified token says: when, and which TSA certificate vouched for it."""

    time: datetime
    tsa_subject: str
    tsa_sha256: str


class TsaClient:
    """Requests RFC 3161 tokens over heads from the TSA at ``url`` (POST application/timestamp-query)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url
        self.timeout = timeout

    async def timestamp_head(self, head: SignedTreeHead) -> bytes:
        """Return the DER token (a CMS ContentInfo) over the head; nonce checked by pyHanko."""
        stamper = HTTPTimeStamper(self.url, timeout=self.timeout)
        try:
            token = await stamper.async_timestamp(head.tsa_imprint(), "sha256")
        except TimestampRequestError as exc:
            raise TimestampError(f"TSA at {self.url} failed: {exc}") from exc
        return bytes(token.dump())

    def timestamp_head_sync(self, head: SignedTreeHead) -> bytes:
        """Blocking form, for the CLI and for code not running an event loop."""
        return asyncio.run(self.timestamp_head(head))


def load_certificates(data: bytes) -> list[asn1_x509.Certificate]:
    """PEM (one or more) or DER certificates, as asn1crypto objects for pyHanko."""
    if b"-----BEGIN" in data:
        return [
            asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))
            for c in x509.load_pem_x509_certificates(data)
        ]
    return [asn1_x509.Certificate.load(data)]


async def verify_head_token(
    head: SignedTreeHead, trust_roots: list[asn1_x509.Certificate], token: bytes | None = None
) -> TimestampVerdict:
    """Check ``token`` (default: ``head.tsa_token``) covers this head and chains to ``trust_roots``.

    Offline: no CRL/OCSP fetching (revocation "soft-fail"), so it runs inside the offline verifier.
    """
    token = token if token is not None else head.tsa_token
    if token is None:
        raise TimestampError(f"head of size {head.tree_size} carries no timestamp token")
    try:
        content = cms.ContentInfo.load(token)
        signed_data = content["content"]
        if content["content_type"].native != "signed_data":
            raise TimestampError("timestamp token is not CMS SignedData")
        imprint_source = head.signed_bytes() + head.signature
        context = ValidationContext(
            trust_roots=trust_roots, allow_fetching=False, revocation_mode="soft-fail"
        )
        kwargs = await validate_tst_signed_data(
            signed_data, context, lambda alg: hashlib.new(alg, imprint_source).digest()
        )
        status = TimestampSignatureStatus(**kwargs)
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto/pyHanko raise many types on malformed input
        raise TimestampError(f"timestamp token of head {head.tree_size} is malformed: {exc}") from exc
    if not status.intact:
        raise TimestampError(f"timestamp token does not cover head of size {head.tree_size} (wrong imprint)")
    if not status.valid:
        raise TimestampError(f"timestamp token signature of head {head.tree_size} is invalid")
    if not status.trusted:
        raise TimestampError(
            f"timestamp token of head {head.tree_size} is not from a trusted TSA "
            f"({status.trust_problem_indic})"
        )
    cert = status.signing_cert
    return TimestampVerdict(status.timestamp, cert.subject.human_friendly, cert.sha256.hex())


# --- a real TSA for tests and demos ----------------------------------------------------------------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "lgsp test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class TestTsa:
    """A throw-away time-stamping authority: fresh root CA + TSA certificate, keys never stored.

    ``app`` is an ASGI app answering RFC 3161 requests at ``/``; serve it with
    :func:`lgsp.testing.servers.serve_in_thread`. ``root_pem`` is what a verifier must trust.
    """

    __test__ = False  # not a pytest test class, despite the name

    def __init__(self) -> None:
        now = datetime.now(UTC)
        root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        root = (
            x509.CertificateBuilder()
            .subject_name(_name("lgsp test TSA root"))
            .issuer_name(_name("lgsp test TSA root"))
            .public_key(root_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
            )
            .sign(root_key, hashes.SHA256())
        )
        leaf = (
            x509.CertificateBuilder()
            .subject_name(_name("lgsp test TSA"))
            .issuer_name(root.subject)
            .public_key(tsa_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(root_key, hashes.SHA256())
        )
        self.root_pem = root.public_bytes(serialization.Encoding.PEM)
        self.tsa_cert_pem = leaf.public_bytes(serialization.Encoding.PEM)
        key_der = tsa_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        self._stamper = DummyTimeStamper(
            tsa_cert=asn1_x509.Certificate.load(leaf.public_bytes(serialization.Encoding.DER)),
            tsa_key=keys.PrivateKeyInfo.load(key_der),
        )
        self.requests_served = 0
        self.app = Starlette(routes=[Route("/", self._handle, methods=["POST"])])

    async def _handle(self, request: Request) -> Response:
        if request.headers.get("content-type") != "application/timestamp-query":
            return Response("expected application/timestamp-query", status_code=415)
        try:
            req = tsp.TimeStampReq.load(await request.body())
            req.native  # noqa: B018 - parse fully now, so garbage is refused here
        except ValueError:
            return Response("malformed TimeStampReq", status_code=400)
        resp = self._stamper.request_tsa_response(req)
        self.requests_served += 1
        return Response(resp.dump(), media_type="application/timestamp-reply")
