"""Managing OAuth2 clients: create, rotate the secret, disable. Shared by the CLI and the admin API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.auth.models import OAuthClient
from lgsp.auth.secrets import generate_client_id, generate_secret, hash_secret
from lgsp.store.db import writer
from registry.models import System
from registry.operations import bump_version

KNOWN_SCOPES = frozenset({"gateway", "admin", "auditor"})


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
    secret = generate_secret()
    client_id = generate_client_id()
    with Session(writer(engine)) as session, session.begin():
        if system_id is not None and session.get(System, system_id) is None:
            raise ClientError("system", f"no system {system_id!r} in the registry")
        if system_id is None and "gateway" in scopes:
            raise ClientError("system", "a client with the 'gateway' scope must act for a registered system")
        session.add(OAuthClient(client_id=client_id, system_id=system_id, secret_hash=hash_secret(secret),
                                scopes=" ".join(sorted(scopes)), description=description))
    return IssuedCredential(client_id, secret, system_id, sorted(scopes))


def rotate_secret(engine: Engine, client_id: str) -> IssuedCredential:
    secret = generate_secret()
    with Session(writer(engine)) as session, session.begin():
        client = session.get(OAuthClient, client_id)
        if client is None:
            raise ClientError("client_id", f"no client {client_id!r}")
        client.secret_hash = hash_secret(secret)
        client.secret_rotated_at = datetime.now(UTC)
        return IssuedCredential(client_id, secret, client.system_id, client.scopes.split())


def set_disabled(engine: Engine, client_id: str, disabled: bool = True) -> None:
    with Session(writer(engine)) as session, session.begin():
        client = session.get(OAuthClient, client_id)
        if client is None:
            raise ClientError("client_id", f"no client {client_id!r}")
        client.disabled = disabled
        bump_version(session)  # gateway processes reload their disabled-client set with the registry


def list_clients(engine: Engine) -> list[OAuthClient]:
    with Session(engine) as session:
        return list(session.scalars(select(OAuthClient).order_by(OAuthClient.created_at)))
