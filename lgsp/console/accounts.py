"""Local console accounts: create, authenticate with lockout, disable, change password; sign-in via OIDC.

Five wrong passwords lock an account for fifteen minutes (counted per account, so guessing across many
addresses does not help); a disabled account cannot sign in by either route.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from lgsp.console.models import ConsoleSession, ConsoleUser
from lgsp.console.passwords import DUMMY_HASH, hash_password, verify_password
from lgsp.console.roles import ROLES
from lgsp.store.db import writer

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 12
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,99}$")


class AccountError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Person:
    username: str
    role: str
    display_name: str


def _aware(value: datetime | None) -> datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=UTC)


def validate_new(username: str, role: str, password: str | None) -> None:
    if not USERNAME_RE.match(username):
        raise AccountError("username", "2-100 characters: lower-case letters, digits, . _ @ -")
    if role not in ROLES:
        raise AccountError("role", f"role must be one of {', '.join(ROLES)}")
    if password is not None and len(password) < MIN_PASSWORD:
        raise AccountError("password", f"at least {MIN_PASSWORD} characters")


def create_user(engine: Engine, username: str, role: str, password: str, display_name: str = "") -> Person:
    validate_new(username, role, password)
    with Session(writer(engine)) as session, session.begin():
        if session.get(ConsoleUser, username) is not None:
            raise AccountError("username", f"{username} already exists")
        session.add(ConsoleUser(username=username, role=role, password_hash=hash_password(password),
                                display_name=display_name or username))
    return Person(username, role, display_name or username)


def list_users(engine: Engine) -> list[ConsoleUser]:
    with Session(engine) as session:
        return list(session.scalars(select(ConsoleUser).order_by(ConsoleUser.username)))


def set_password(engine: Engine, username: str, password: str) -> None:
    validate_new(username, "observer", password)
    with Session(writer(engine)) as session, session.begin():
        user = session.get(ConsoleUser, username)
        if user is None:
            raise AccountError("username", f"no user {username}")
        user.password_hash = hash_password(password)
        user.failed_logins = 0
        user.locked_until = None
        # whoever knew the old password (or holds a cookie from it) is signed out too
        session.execute(delete(ConsoleSession).where(ConsoleSession.username == user.username))


def set_disabled(engine: Engine, username: str, disabled: bool = True) -> None:
    with Session(writer(engine)) as session, session.begin():
        user = session.get(ConsoleUser, username)
        if user is None:
            raise AccountError("username", f"no user {username}")
        user.disabled = disabled


class LoginRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason  # "invalid" | "locked" (the page shows one message for both unknown and wrong)


def authenticate(engine: Engine, username: str, password: str, now: datetime | None = None) -> Person:
    now = now or datetime.now(UTC)
    refused: str | None = None
    with Session(writer(engine)) as session, session.begin():  # the failure count must commit: no raise inside
        user = session.get(ConsoleUser, username.strip().lower())
        if user is None or user.disabled or user.password_hash is None:
            verify_password(password, DUMMY_HASH)
            refused = "invalid"
        elif (locked := _aware(user.locked_until)) is not None and locked > now:
            refused = "locked"
        elif not verify_password(password, user.password_hash):
            user.failed_logins += 1
            if user.failed_logins >= MAX_FAILURES:
                user.locked_until = now + LOCKOUT
                user.failed_logins = 0
            refused = "invalid"
        else:
            user.failed_logins = 0
            user.locked_until = None
            person = Person(user.username, user.role, user.display_name)
    if refused is not None:
        raise LoginRefused(refused)
    return person


def sign_in_external(engine: Engine, issuer: str, subject: str, role: str, display_name: str) -> Person:
    """A person vouched for by the identity provider: created or updated (role from the IdP's claim)."""
    username = f"{subject}"[:100].lower()
    with Session(writer(engine)) as session, session.begin():
        user = session.get(ConsoleUser, username)
        if user is None:
            user = ConsoleUser(username=username, role=role, source=issuer, display_name=display_name)
            session.add(user)
        elif user.source != issuer:
            raise AccountError("username", f"{username} is a local account; it cannot sign in through {issuer}")
        if user.disabled:
            raise AccountError("username", f"{username} is disabled")
        user.role, user.display_name = role, display_name
        return Person(user.username, role, display_name)
