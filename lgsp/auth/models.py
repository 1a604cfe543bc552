"""Tables for OAuth2 clients and the token signing keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base
from registry.models import utcnow


class OAuthClient(Base):
    """A credential for a client system (or an operator/auditor with no system).

    Only a salted scrypt hash of the secret is stored; the secret is shown once at creation/rotation.
    """

    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    system_id: Mapped[str | None] = mapped_column(ForeignKey("systems.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(300))
    #: Space-separated scopes: "gateway" (call services), "admin", "auditor".
    scopes: Mapped[str] = mapped_column(String(200), default="gateway")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    secret_rotated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    #: Unix time; access tokens with an earlier `iat` are refused (set by secret rotation and revocation).
    tokens_not_before: Mapped[int | None] = mapped_column(BigInteger, default=None)


class SigningKey(Base):
    """An ES256 key pair for access tokens. Retired keys stay published until their tokens expire."""

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(10), default="ES256")
    private_pem: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
