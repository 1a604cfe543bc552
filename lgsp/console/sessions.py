"""Server-side sessions: the cookie carries a random id; the store keeps its hash, role and CSRF token.

Idle sessions expire (``console_idle_seconds``), and every session after ``console_session_max_seconds``;
logging out deletes the row, and a new password deletes all the person's rows, so a stolen cookie stops
working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session

from lgsp.console.accounts import Person
from lgsp.console.models import ConsoleSession, ConsoleUser
from lgsp.store.db import writer

COOKIE = "lgsp_console"


@dataclass(frozen=True)
class ActiveSession:
    person: Person
    csrf_token: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def create(engine: Engine, person: Person) -> str:
    token = secrets.token_urlsafe(32)
    with Session(writer(engine)) as session, session.begin():
        session.add(ConsoleSession(id_sha256=_digest(token), username=person.username, role=person.role,
                                   csrf_token=secrets.token_urlsafe(32)))
    return token


def find(engine: Engine, token: str | None, idle_seconds: float, now: datetime | None = None,
         max_seconds: float = 43200) -> ActiveSession | None:
    """The session behind the cookie, unless idle for ``idle_seconds`` or older than ``max_seconds``."""
    if not token or len(token) > 200:
        return None
    now = now or datetime.now(UTC)
    with Session(writer(engine)) as session, session.begin():
        row = session.get(ConsoleSession, _digest(token))
        if row is None:
            return None
        user = session.get(ConsoleUser, row.username)
        if (user is None or user.disabled or now - _aware(row.last_seen) > timedelta(seconds=idle_seconds)
                or now - _aware(row.created_at) > timedelta(seconds=max_seconds)):
            session.delete(row)
            return None
        if now - _aware(row.last_seen) > timedelta(seconds=30):  # not a write per page view
            row.last_seen = now
        return ActiveSession(Person(user.username, row.role, user.display_name), row.csrf_token)


def end(engine: Engine, token: str | None) -> None:
    if token:
        with Session(writer(engine)) as session, session.begin():
            session.execute(delete(ConsoleSession).where(ConsoleSession.id_sha256 == _digest(token)))
