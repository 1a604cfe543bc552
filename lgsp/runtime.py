"""Everything one gateway process holds while it runs: store, caches, clients, the audit writer.

Built once by the app factory and started/stopped by the ASGI lifespan, so nothing on the request path
allocates pools or reloads configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from lgsp import logs, metrics
from lgsp.audit.writer import AuditWriter
from lgsp.auth.keys import KeyRing
from lgsp.auth.models import OAuthClient
from lgsp.auth.oauth import TokenEndpoint
from lgsp.auth.throttle import FailureThrottle
from lgsp.auth.tokens import ClientIdentity, TokenService
from lgsp.gateway.breaker import CircuitBreakers
from lgsp.gateway.exchange import Exchange, latency_us
from lgsp.gateway.signatures import SignatureCheck, build_verifier, make_check
from lgsp.gateway.upstream import Upstream
from lgsp.looplag import LoopLagMonitor
from lgsp.problems import Problem
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.store.wait_bound import describe, is_store_wait
from lgsp.traffic.backends import build_backend
from lgsp.traffic.limiter import TrafficLimiter
from registry.snapshot import RegistryCache


def load_disabled_clients(engine: Engine) -> frozenset[str]:
    with Session(engine) as session:
        return frozenset(session.scalars(select(OAuthClient.client_id).where(OAuthClient.disabled.is_(True))))


def load_tokens_not_before(engine: Engine) -> dict[str, int]:
    """client id -> Unix time before which its tokens are refused (secret rotation, revocation)."""
    with Session(engine) as session:
        rows = session.execute(select(OAuthClient.client_id, OAuthClient.tokens_not_before)
                               .where(OAuthClient.tokens_not_before.is_not(None)))
        return {client_id: int(not_before) for client_id, not_before in rows if not_before is not None}


#: Exchange facts beyond the fixed entry fields that are worth committing to the audit log.
AUDITED_EXTRAS = frozenset({"attempts", "truncated", "operation", "soap_passthrough", "signature"})


class Runtime:
    def __init__(self, settings: Settings, engine: Engine | None = None, migrate: bool = True) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.database_url,
                                             lock_timeout_seconds=settings.store_lock_timeout_seconds)
        if migrate:
            upgrade(self.engine)
        self.log = structlog.get_logger("lgsp")
        self.registry = RegistryCache(self.engine, settings.registry_refresh_seconds)
        self.disabled_clients = load_disabled_clients(self.engine)
        self.tokens_not_before = load_tokens_not_before(self.engine)
        self.keyring = KeyRing(self.engine, settings.token_lifetime_seconds, settings)
        self.tokens = TokenService(self.keyring, settings.public_url, settings.token_lifetime_seconds,
                                   settings.token_max_lifetime_seconds)
        self.token_endpoint = TokenEndpoint(self.engine, self.tokens)
        self.token_failures = FailureThrottle(settings.token_failure_limit, settings.token_failure_window_seconds)
        self.audit = AuditWriter(self.engine, settings.audit_max_batch, settings=settings)
        self.breakers = CircuitBreakers(settings.breaker_failure_threshold, settings.breaker_cooldown_seconds)
        self.upstream = Upstream(settings.upstream_pool_size, self.breakers, settings.upstream_pool_per_provider)
        self.verifier = build_verifier(settings, self.registry)
        self.signature_check: SignatureCheck | None = make_check(self.verifier) if self.verifier else None
        self.traffic = TrafficLimiter(build_backend(settings.traffic_backend, self.engine, settings.redis_url),
                                      fail_open_rates=settings.traffic_fail_open_rates,
                                      fail_open_quotas=settings.traffic_fail_open_quotas)
        self._refresher: asyncio.Task[None] | None = None
        self.loop_lag: LoopLagMonitor | None = None
        self._access_line: logs.AccessLine | None = None

    async def start(self) -> None:
        if self.settings.loop_lag_file:
            self.loop_lag = LoopLagMonitor(self.settings.loop_lag_file)
            self.loop_lag.start()
        self.keyring.signing_key()
        await self.audit.start()
        await self.upstream.start()
        self._refresher = asyncio.create_task(self._refresh_loop(), name="lgsp-registry-refresh")

    async def stop(self) -> None:
        if self._refresher is not None:
            self._refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._refresher
        await self.upstream.stop()
        await self.audit.stop()
        await self.traffic.backend.close()
        if self.loop_lag is not None:
            await self.loop_lag.stop()

    def registry_changed(self) -> None:
        """Called after a change made through this process: drop caches now, not at the next poll."""
        self.registry.invalidate()
        self.disabled_clients = load_disabled_clients(self.engine)
        self.tokens_not_before = load_tokens_not_before(self.engine)

    async def _refresh_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.settings.registry_refresh_seconds)
            try:
                if await loop.run_in_executor(None, self.registry.refresh_if_stale):
                    self.disabled_clients = await loop.run_in_executor(None, load_disabled_clients, self.engine)
                    self.tokens_not_before = await loop.run_in_executor(None, load_tokens_not_before, self.engine)
            except Exception as exc:
                if is_store_wait(exc):  # a lock someone holds on the registry's tables: the next poll tries again
                    self.log.warning("store busy; registry refresh keeps the last snapshot", error=describe(exc))
                else:
                    self.log.exception("registry refresh failed; keeping the last snapshot")

    def authenticate(self, authorization: str | None) -> ClientIdentity:
        """The caller behind a bearer token, refused when its client is disabled or the token predates the
        client's `tokens_not_before` (both known from the registry snapshot's refresh, within a second)."""
        identity = self.tokens.authenticate(authorization)
        if identity.client_id in self.disabled_clients:
            raise Problem("invalid-token", "this client has been disabled",
                          headers={"WWW-Authenticate": 'Bearer realm="lgsp", error="invalid_token"'})
        not_before = self.tokens_not_before.get(identity.client_id)
        if not_before is not None and identity.issued_at < not_before:
            raise Problem("invalid-token", "this access token was revoked (issued before the client's last "
                                           "secret rotation or token revocation)",
                          headers={"WWW-Authenticate": 'Bearer realm="lgsp", error="invalid_token"'})
        return identity

    async def record(self, exchange: Exchange) -> int:
        """Write the exchange's audit entry; returns its index once durable.

        A store that cannot take the entry (down, or a lock held past ``audit_write_timeout_seconds``) is a
        503 ``audit-unavailable``: nothing of the entry was committed, so the caller gets no answer of the
        provider's it could not be audited with. It is not tried twice for one exchange (the problem's own
        entry would wait as long again)."""
        if "audit_index" in exchange.extra:
            return int(exchange.extra["audit_index"])
        if exchange.extra.get("audit_failed"):
            raise _audit_unavailable(self.settings)
        request = exchange.request
        entry: dict[str, Any] = {
            "time": exchange.received_at,
            "message_id": exchange.message_id,
            "correlation_id": exchange.correlation_id,
            "client": exchange.client.principal if exchange.client else None,
            "service": exchange.service_id if exchange.service is not None else None,
            "method": request.method if request else "",
            "path": request.path if request else "",
            "user_id": exchange.user_id,
            "status": exchange.status,
            "latency_us": latency_us(exchange),
            "request_sha256": request.body_sha256 if request else None,
            "response_sha256": exchange.response.body_sha256 if exchange.response else None,
            "problem_type": exchange.problem.type if exchange.problem else None,
            "signature_report_sha256": exchange.signature_report_sha256,
            "extra": {k: v for k, v in exchange.extra.items() if k in AUDITED_EXTRAS},
        }
        if exchange.attempts > 1:
            entry["extra"]["attempts"] = exchange.attempts
        if not entry["method"]:
            entry["method"] = "-"
            entry["path"] = entry["path"] or "-"
        bodies = None
        if exchange.service is not None and exchange.service.keep_bodies:
            bodies = (request.body if request else None,
                      exchange.response.body if exchange.response else None)
        try:
            index = await self.audit.record(entry, bodies)
        except (DBAPIError, RuntimeError) as exc:  # the store failed or the writer is stopping; a bug still raises
            exchange.extra["audit_failed"] = True
            self.log.error("audit store unavailable; call refused", message_id=exchange.message_id,
                           error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}")
            raise _audit_unavailable(self.settings) from exc
        exchange.extra["audit_index"] = index
        exchange.extra["audited"] = True
        return index

    def observe(self, exchange: Exchange) -> None:
        """Metrics and the one structured log line per exchange (built directly, see `logs.access_writer`)."""
        micros = latency_us(exchange)
        service = exchange.service.id if exchange.service is not None else "-"
        status = exchange.status
        metrics.observe_exchange(service, status, micros / 1_000_000)
        if self.settings.access_log:
            if self._access_line is None:
                self._access_line = logs.access_writer() or self._structlog_line
            self._access_line(exchange.message_id, exchange.correlation_id,
                              exchange.client.principal if exchange.client else None, service,
                              exchange.request.method if exchange.request else None, status,
                              micros / 1000, exchange.extra.get("audit_index"),  # = round(ms, 3), cheaper
                              exchange.problem.kind if exchange.problem else None, exchange.attempts)

    def _structlog_line(self, message_id: str, correlation_id: str, client: str | None, service: str,
                        method: str | None, status: int, latency_ms: float, audit_index: int | None,
                        problem: str | None, attempts: int) -> None:
        """The access line through structlog, when `logs.configure` was not called (tests, embedded use)."""
        self.log.info("exchange", message_id=message_id, correlation_id=correlation_id, client=client,
                      service=service, method=method, status=status, latency_ms=latency_ms,
                      audit_index=audit_index, problem=problem, attempts=attempts)


def _audit_unavailable(settings: Settings) -> Problem:
    retry = max(1, round(settings.audit_write_timeout_seconds)) if settings.audit_write_timeout_seconds > 0 else 10
    return Problem("audit-unavailable", "the exchange could not be recorded in the audit log (the store did not "
                   "take the entry in time); nothing was passed on to the caller, try again later",
                   headers={"Retry-After": str(retry)})
