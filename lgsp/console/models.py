"""Console tables: people (local or single sign-on), their sessions, and sign-ins in progress.

A session row stores only the SHA-256 of the cookie value, so a copy of the database cannot be replayed as
a login; the CSRF token is per session and compared in constant time.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from lgsp.store.base import Base


def utcnow() -> datetime:
    return datetime.now(UTC)


class ConsoleUser(Base):
    __tablename__ = "console_users"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(30))
    #: `scrypt$...` for local accounts; NULL for people who sign in through the identity provider only.
    password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    #: "local" or the OIDC issuer that vouches for this person.
    source: Mapped[str] = mapped_column(String(300), default="local")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleSession(Base):
    __tablename__ = "console_sessions"

    id_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(String(100), index=True)
    role: Mapped[str] = mapped_column(String(30))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ConsoleOidcPending(Base):
    """An authorization request sent to the identity provider and not yet answered (state -> verifier)."""

    __tablename__ = "console_oidc_pending"

    state: Mapped[str] = mapped_column(String(100), primary_key=True)
    code_verifier: Mapped[str] = mapped_column(String(200))
    nonce: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
