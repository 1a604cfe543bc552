"""Managing OAuth2 clients: create, rotate the secret, disable. Shared by the CLI and the admin API."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from sqlalchemy import Engine, String, Table, select
from sqlalchemy.orm import Session

from lgsp.auth.models import OAuthClient
from lgsp.auth.secrets import could_be_client_id, generate_client_id, generate_secret, hash_secret
from lgsp.store.db import writer
from registry.inputs import InputError, check_display_name
from registry.models import System
from registry.operations import bump_version

#: "metrics" is for a Prometheus scraper (OAuth2 client credentials in its scrape config).
KNOWN_SCOPES = frozenset({"gateway", "admin", "auditor", "metrics"})
#: ``oauth_clients.description``'s length
MAX_DESCRIPTION = cast(int, cast(String, cast(Table, OAuthClient.__table__).c.description.type).length)


#: Separation of duties (as X-Road separates security officers, system administrators and auditors):
#: whoever manages the registry and credentials must not also read the audit log that records those
#: changes, nor call services as a department system with the grants it gave itself.
ADMIN_EXCLUDES = frozenset({"auditor", "gateway"})


class ClientError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class IssuedCredential:
    client_id: str
    client_secret: str
    system_id: str | None
    scopes: list[str]


def create_client(engine: Engine, system_id: str | None, scopes: list[str], description: str = "") -> (
    IssuedCredential
):
    unknown = set(scopes) - KNOWN_SCOPES
    if unknown:
        raise ClientError("scopes", f"unknown scopes: {', '.join(sorted(unknown))}")
    if not scopes:
        raise ClientError("scopes", "at least one scope is required")
    if "admin" in scopes and set(scopes) & ADMIN_EXCLUDES:
        raise ClientError("scopes", "separation of duties: an 'admin' client cannot also hold the "
                                    f"{' or '.join(sorted(set(scopes) & ADMIN_EXCLUDES))} scope; create "
                                    "one client per duty")
    try:
        check_display_name(description, "description")
    except InputError as exc:
        raise ClientError(exc.field, str(exc)) from exc
    if len(description) > MAX_DESCRIPTION:  # the column's length: longer failed the INSERT on PostgreSQL (a 500)
        raise ClientError("description", f"at most {MAX_DESCRIPTION} characters ({len(description)} given)")
    secret = generate_secret()
    client_id = generate_client_id()
    with Session(writer(engine)) as session, session.begin():
        if system_id is not None and (not system_id.isprintable() or session.get(System, system_id) is None):
            raise ClientError("system", f"no system {system_id!r} in the registry")
        if system_id is None and "gateway" in scopes:
            raise ClientError("system", "a client with the 'gateway' scope must act for a registered system")
        session.add(OAuthClient(client_id=client_id, system_id=system_id, secret_hash=hash_secret(secret),
                                scopes=" ".join(sorted(scopes)), description=description))
    return IssuedCredential(client_id, secret, system_id, sorted(scopes))


def _get(session: Session, client_id: str) -> OAuthClient | None:
    """The client ``client_id`` names; None for an id no client could have (a NUL from a URL path was a
    PostgreSQL DataError, a 500 from the admin API)."""
    return session.get(OAuthClient, client_id) if could_be_client_id(client_id) else None


def _next_second() -> int:
    """`tokens_not_before` for a revocation now: every token issued so far (iat <= now) is refused, and
    tokens issued from here on carry at least this iat (`TokenService.issue`)."""
    return int(time.time()) + 1


def rotate_secret(engine: Engine, client_id: str) -> IssuedCredential:
    """A new secret; the old one stops working and so do the tokens issued with it."""
    secret = generate_secret()
    with Session(writer(engine)) as session, session.begin():
        client = _get(session, client_id)
        if client is None:
            raise ClientError("client_id", f"no client {client_id!r}")
        client.secret_hash = hash_secret(secret)
        client.secret_rotated_at = datetime.now(UTC)
        client.tokens_not_before = _next_second()
        bump_version(session)  # gateway processes reload the not-before times with the registry
        return IssuedCredential(client_id, secret, client.system_id, client.scopes.split())


def revoke_tokens(engine: Engine, client_id: str) -> int:
    """Refuse every access token issued to this client until now (the secret stays); returns not-before."""
    with Session(writer(engine)) as session, session.begin():
        client = _get(session, client_id)
        if client is None:
            raise ClientError("client_id", f"no client {client_id!r}")
        client.tokens_not_before = _next_second()
        bump_version(session)
        return client.tokens_not_before


def set_disabled(engine: Engine, client_id: str, disabled: bool = True, acting_client: str | None = None) -> None:
    """Disable (or re-enable) a client. Refused: an admin disabling itself, and disabling the last
    enabled admin client (nobody could manage the bus any more short of editing the database)."""
    with Session(writer(engine)) as session, session.begin():
        client = _get(session, client_id)
        if client is None:
            raise ClientError("client_id", f"no client {client_id!r}")
        if disabled and client_id == acting_client:
            raise ClientError("client_id", "an admin client cannot disable itself")
        if disabled and not client.disabled and "admin" in client.scopes.split():
            admins = session.scalars(select(OAuthClient).where(OAuthClient.disabled.is_(False))).all()
            if sum("admin" in row.scopes.split() for row in admins) <= 1:
                raise ClientError("client_id", "this is the last enabled admin client; create another first")
        client.disabled = disabled
        bump_version(session)  # gateway processes reload their disabled-client set with the registry


def list_clients(engine: Engine) -> list[OAuthClient]:
    with Session(engine) as session:
        return list(session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)))
