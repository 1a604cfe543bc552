"""The signature stage: a per-service policy `off | report | require` applied to request bodies.

`report` records the verification report's digest in the audit entry and lets the request through;
`require` refuses with a 422 problem carrying the report unless it reaches TOTAL_PASSED. One long-lived
`signing.Verifier` per process, so the chain and revocation caches make repeated signers cheap; it is
CPU-bound and synchronous, so it runs in a worker thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from lgsp.gateway.exchange import Exchange
from lgsp.problems import Problem
from lgsp.settings import Settings
from registry.snapshot import RegistryCache
from signing.config import SignatureSettings

if TYPE_CHECKING:
    from signing import Verifier

SignatureCheck = Callable[[Exchange], Awaitable[None]]
SOAP_BODY = ["/soap:Envelope/soap:Body"]

#: The client system whose request is being verified: a JWS without an x5c chain is checked only against
#: the keys *that* system registered, so one system can never sign in another's name.
current_signer_system: ContextVar[str | None] = ContextVar("lgsp_current_signer_system", default=None)


def registry_key_lookup(registry: RegistryCache) -> Callable[[dict[str, Any]], object | None]:
    def lookup(header: dict[str, Any]) -> object | None:
        system = current_signer_system.get()
        if system is None:
            return None
        return registry.current().system_keys.get(system, {}).get(str(header.get("kid", "")))

    return lookup


def signature_settings(settings: Settings) -> SignatureSettings:
    """The one reading of the signature settings shared by the gateway, the HTTP endpoint and `lgsp verify`."""
    return SignatureSettings.from_values(settings.trust_paths, settings.signature_policy_file)


def build_verifier(settings: Settings, registry: RegistryCache) -> Verifier | None:
    config = signature_settings(settings)
    if not config.trust_paths:
        return None
    return config.verifier(key_lookup=registry_key_lookup(registry))


def make_check(verifier: Verifier) -> SignatureCheck:
    async def check(exchange: Exchange) -> None:
        request, service = exchange.request, exchange.service
        assert request is not None and service is not None
        content_type = next((v.decode("latin-1") for k, v in request.headers if k.lower() == b"content-type"), None)
        must_cover = SOAP_BODY if exchange.extra.get("soap_caller") else None
        current_signer_system.set(exchange.client.system_id if exchange.client else None)  # copied into the thread
        report = await asyncio.to_thread(verifier.verify, request.body or b"", content_type, must_cover=must_cover)
        exchange.signature_report_sha256 = report.digest()
        exchange.extra["signature"] = report.indication.value
        if service.signature_policy == "require" and not report.passed:
            raise Problem("signature-invalid",
                          f"the request's signature did not pass verification ({report.indication.value}"
                          f"{'/' + report.sub_indication.value if report.sub_indication else ''})",
                          signature_report=report.to_dict())

    return check


def no_verifier(exchange: Exchange) -> None:
    """Fail closed: a `require` service with no trust anchors configured accepts nothing."""
    assert exchange.service is not None
    if exchange.service.signature_policy == "require":
        raise Problem("not-configured", "this service requires signed requests but the gateway has no trust "
                                        "anchors configured (LGSP_TRUST_PATHS)")
