"""Registry tables: agencies, systems, services, grants (deny by default: no grant, no call)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, UniqueConstraint, update
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from registry.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class Agency(Base):
    __tablename__ = "agencies"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("agencies.code"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    systems: Mapped[list[System]] = relationship(back_populates="agency", cascade="all, delete-orphan")


class System(Base):
    """A department system under an agency; it may call services (client), offer them (provider), or both."""

    __tablename__ = "systems"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)  # "{agency}/{code}"
    agency_code: Mapped[str] = mapped_column(ForeignKey("agencies.code"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    is_client: Mapped[bool] = mapped_column(Boolean, default=True)
    is_provider: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Public keys (a JWKS) the system signs JWS with; the gateway verifies its JWS-signed requests with them.
    jwks: Mapped[dict | None] = mapped_column(JSON, default=None)
    #: SHA-256 fingerprints (lowercase hex of the DER) of the client certificates the system must present
    #: (mTLS binding, X-Road's model); None = not bound, its calls need no certificate.
    client_cert_sha256: Mapped[list | None] = mapped_column(JSON, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    agency: Mapped[Agency] = relationship(back_populates="systems")
    services: Mapped[list[Service]] = relationship(back_populates="system", cascade="all, delete-orphan")


class Service(Base):
    """A service a provider system offers through the gateway (REST base URL or SOAP endpoint + WSDL)."""

    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(170), primary_key=True)  # "{agency}/{system}/{code}"
    system_id: Mapped[str] = mapped_column(ForeignKey("systems.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10), default="rest")  # rest | soap
    base_url: Mapped[str] = mapped_column(String(2000))
    wsdl_path: Mapped[str | None] = mapped_column(String(500), default=None)
    timeout_seconds: Mapped[float] = mapped_column(Float, default=10.0)
    retry_attempts: Mapped[int] = mapped_column(Integer, default=2)
    retry_backoff_seconds: Mapped[float] = mapped_column(Float, default=0.2)
    #: Methods whose operations the provider declares idempotent: only these are ever retried.
    idempotent_methods: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["GET", "HEAD", "OPTIONS"])
    max_body_bytes: Mapped[int | None] = mapped_column(Integer, default=None)
    signature_policy: Mapped[str] = mapped_column(String(10), default="off")  # off | report | require
    keep_bodies: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    system: Mapped[System] = relationship(back_populates="services")


class Grant(Base):
    """Permission for a client system to call a service, optionally limited by method and path pattern."""

    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("client_system_id", "service_id", "methods", "path_pattern"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client_system_id: Mapped[str] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    #: Upper-case HTTP methods joined by commas and sorted ("GET,POST"), or "*" for all.
    methods: Mapped[str] = mapped_column(String(100), default="*")
    #: A glob over the path after the service id (`*` matches within and across segments), "*" = all.
    path_pattern: Mapped[str] = mapped_column(String(500), default="*")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegistryState(Base):
    """One row whose version is bumped on every registry change, so other processes drop their caches."""

    __tablename__ = "registry_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, default=1)
    version: Mapped[int] = mapped_column(Integer, default=0)


def bump_version(session: Session) -> None:
    """Bump ``registry_state.version`` in the caller's transaction: every registry change does, in the same
    transaction as the change, which is how gateway processes learn that their cached snapshot is stale."""
    result = session.execute(update(RegistryState).where(RegistryState.id == 1)
                             .values(version=RegistryState.version + 1))
    if getattr(result, "rowcount", 0) == 0:
        session.add(RegistryState(id=1, version=1))


class ServiceLimit(Base):
    """A traffic limit on a service for one caller scope (see registry.traffic_policy): rate, quota, concurrency."""

    __tablename__ = "service_limits"
    __table_args__ = (UniqueConstraint("service_id", "client"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    service_id: Mapped[str] = mapped_column(ForeignKey("services.id", ondelete="CASCADE"), index=True)
    #: A client system id, "*" (each client system its own counters) or "" (all callers together).
    client: Mapped[str] = mapped_column(String(100), default="")
    rate_per_second: Mapped[float | None] = mapped_column(Float, default=None)
    burst: Mapped[int | None] = mapped_column(Integer, default=None)
    quota: Mapped[int | None] = mapped_column(Integer, default=None)
    quota_period: Mapped[str | None] = mapped_column(String(10), default=None)  # hour | day | month
    concurrency: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
