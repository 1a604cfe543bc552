"""mTLS binding of client systems (X-Road's model): a bound system's calls must come with its certificate.

A system may be bound in the registry to one or more client certificates, each named by the SHA-256
fingerprint of its DER encoding (``client_cert_sha256``). A bearer token alone is then not enough: the call
must also arrive over a TLS connection on which the caller presented one of those certificates. Unbound
systems are unaffected.

Where the certificate comes from, in this order:

1. the ASGI TLS extension (``scope["extensions"]["tls"]["client_cert_chain"]``, PEM strings), when the
   server terminating TLS fills it;
2. a header set by a TLS-terminating load balancer (``LGSP_CLIENT_CERT_HEADER``), believed only when the
   TCP peer is one of ``LGSP_TRUSTED_PROXIES``: from anyone else the header is ignored, so a forged header
   never stands in for a handshake. Its value is base64 DER (HAProxy ``%[ssl_c_der,base64]``) or a
   URL-encoded PEM (nginx ``$ssl_client_escaped_cert``); empty means no certificate was presented.

The proof of possession is the TLS handshake at the balancer; this module only compares what the balancer
saw with the registry. The peer address is the one uvicorn accepted the connection from: ``lgsp serve``
records it before uvicorn's X-Forwarded-For handling rewrites ``scope["client"]`` (:func:`lgsp.app.served_app`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from lgsp.auth.tokens import ClientIdentity
from lgsp.problems import Problem

if TYPE_CHECKING:
    from lgsp.runtime import Runtime

#: Where :class:`PeerRecorder` keeps the TCP peer before X-Forwarded-For handling replaces ``client``.
PEER_KEY = "lgsp.peer"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class CertificateHeaderError(ValueError):
    """The balancer's header holds something that is not a certificate."""


class Transport(NamedTuple):
    """What the connection itself says about the caller (taken from the ASGI scope once).

    Immutable; a named tuple rather than a frozen dataclass because one is built for every gateway call
    (a third cheaper to construct, issue 14.1).
    """

    peer_host: str | None
    tls_chain: tuple[str, ...] = ()  # PEM, leaf first (ASGI TLS extension)


def transport_of(scope: Mapping[str, Any]) -> Transport:
    peer = scope.get(PEER_KEY) or scope.get("client")
    extensions = scope.get("extensions")
    tls = extensions.get("tls") if extensions else None
    chain = tuple(tls.get("client_cert_chain") or ()) if tls else ()
    return Transport(str(peer[0]) if peer else None, chain)


def fingerprint(der: bytes) -> str:
    """SHA-256 of the DER certificate, lowercase hex: what ``client_cert_sha256`` holds."""
    return hashlib.sha256(der).hexdigest()


def parse_header_certificate(value: str) -> bytes | None:
    """DER bytes of the certificate in a balancer header; None when the header says "no certificate".

    Accepted: base64 of the DER (HAProxy ``ssl_c_der,base64``), PEM, and URL-encoded PEM (nginx
    ``$ssl_client_escaped_cert``, Traefik, Envoy-like forms). Anything else raises
    :class:`CertificateHeaderError`: it is never treated as "no certificate".
    """
    text = value.strip()
    if not text or text == "(null)":
        return None
    if "%" in text:
        text = unquote(text)
    try:
        if text.startswith("-----BEGIN"):
            return x509.load_pem_x509_certificate(text.encode("ascii")).public_bytes(Encoding.DER)
        der = base64.b64decode(text, validate=True)
        return x509.load_der_x509_certificate(der).public_bytes(Encoding.DER)
    except (ValueError, binascii.Error, UnicodeEncodeError) as exc:
        raise CertificateHeaderError(f"the client-certificate header does not hold a certificate: {exc}") from exc


@lru_cache(maxsize=16)
def parse_trusted_proxies(value: str) -> tuple[Network, ...]:
    """``LGSP_TRUSTED_PROXIES``: addresses or CIDR networks, comma- or space-separated."""
    items = [item for item in value.replace(",", " ").split() if item]
    try:
        return tuple(ipaddress.ip_network(item, strict=False) for item in items)
    except ValueError as exc:
        raise ValueError(f"LGSP_TRUSTED_PROXIES: {exc}") from exc


def is_trusted_proxy(host: str | None, networks: Iterable[Network]) -> bool:
    """Whether ``host`` (the TCP peer) is one of the configured balancers; unix sockets and names are not."""
    if not host:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def presented_certificate(transport: Transport, headers: list[tuple[bytes, bytes]], header_name: str,
                          trusted_proxies: str) -> bytes | None:
    """The DER certificate the caller presented, or None; a forged header from an untrusted peer is ignored."""
    if transport.tls_chain:
        try:
            return x509.load_pem_x509_certificate(transport.tls_chain[0].encode("ascii")).public_bytes(Encoding.DER)
        except ValueError as exc:  # the server handed over something odd: no usable certificate
            raise CertificateHeaderError(f"the TLS layer's client certificate is unreadable: {exc}") from exc
    if not header_name or not is_trusted_proxy(transport.peer_host, parse_trusted_proxies(trusted_proxies)):
        return None
    wanted = header_name.lower().encode("latin-1")
    values = [value.decode("latin-1") for key, value in headers if key.lower() == wanted]
    if not values:
        return None
    if len(values) > 1:
        raise CertificateHeaderError("the client-certificate header appears more than once")
    return parse_header_certificate(values[0])


def check(identity: ClientIdentity, transport: Transport, headers: list[tuple[bytes, bytes]],
          runtime: Runtime) -> None:
    """Refuse a bound system's call that lacks its certificate (401) or brings another one (403)."""
    if identity.system_id is None:
        return
    bound = runtime.registry.current().client_certs.get(identity.system_id)
    if not bound:
        return
    settings = runtime.settings
    try:
        der = presented_certificate(transport, headers, settings.client_cert_header, settings.trusted_proxies)
    except CertificateHeaderError as exc:
        raise Problem("client-certificate-mismatch", f"{identity.system_id} is bound to a client certificate; "
                                                     f"{exc}") from exc
    if der is None:
        raise Problem("client-certificate-required",
                      f"{identity.system_id} is bound to a client certificate: call over TLS presenting it "
                      "(mutual TLS); a bearer token alone is not enough")
    if fingerprint(der) not in bound:
        raise Problem("client-certificate-mismatch",
                      f"the client certificate presented (SHA-256 {fingerprint(der)}) is not one registered "
                      f"for {identity.system_id}")


class PeerRecorder:
    """ASGI wrapper that keeps the TCP peer under :data:`PEER_KEY`, then applies uvicorn's X-Forwarded-For
    handling (so throttling and logs still see the original client, and the trusted-proxy check the balancer)."""

    def __init__(self, app: Any, forwarded_allow_ips: str) -> None:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        self.app: Any = ProxyHeadersMiddleware(app, trusted_hosts=forwarded_allow_ips)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket"):
            scope[PEER_KEY] = scope.get("client")
        await self.app(scope, receive, send)

