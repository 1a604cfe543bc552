"""`lgsp clients ...`: OAuth2 client credentials (create, rotate, revoke, disable, list)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lgsp.cli.common import console, engine_from_settings, fail

clients_app = typer.Typer(help="OAuth2 client credentials.", no_args_is_help=True)


@clients_app.command("create")
def clients_create(
    system: Annotated[str | None, typer.Option(help="System id AGENCY/SYSTEM the client acts for.")] = None,
    scope: Annotated[list[str] | None, typer.Option(help="gateway, admin or auditor (repeatable).")] = None,
    description: Annotated[str, typer.Option()] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (for scripts).")] = False,
) -> None:
    """Create client credentials; the secret is printed once and stored only as a hash."""
    from lgsp.auth.clients import ClientError, create_client

    scopes = scope or (["gateway"] if system else [])
    try:
        issued = create_client(engine_from_settings(), system, scopes, description)
    except ClientError as exc:
        fail(f"{exc.field}: {exc}", 2)
    _print_credential(issued.client_id, issued.client_secret, issued.system_id, issued.scopes, as_json)


def _print_credential(client_id: str, secret: str, system: str | None, scopes: list[str], as_json: bool) -> None:
    if as_json:
        print(json.dumps({"client_id": client_id, "client_secret": secret, "system": system, "scopes": scopes}))
        return
    console.print(f"client_id:     {client_id}\nclient_secret: {secret}\nsystem:        {system or '-'}\n"
                  f"scopes:        {' '.join(scopes)}\n[dim]The secret is shown only now; store it safely.[/]")


@clients_app.command("rotate-secret")
def clients_rotate(client_id: str,
                   as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Issue a new secret (the old one, and the tokens issued with it, stop working at once)."""
    from lgsp.auth.clients import ClientError, rotate_secret

    try:
        issued = rotate_secret(engine_from_settings(), client_id)
    except ClientError as exc:
        fail(str(exc), 2)
    _print_credential(issued.client_id, issued.client_secret, issued.system_id, issued.scopes, as_json)


@clients_app.command("revoke-tokens")
def clients_revoke_tokens(client_id: str) -> None:
    """Refuse every access token issued to this client so far (gateways notice within a second)."""
    from lgsp.auth.clients import ClientError, revoke_tokens

    try:
        revoke_tokens(engine_from_settings(), client_id)
    except ClientError as exc:
        fail(str(exc), 2)
    console.print(f"tokens of client {client_id} issued until now are revoked")


@clients_app.command("disable")
def clients_disable(client_id: str) -> None:
    """Disable a client: no new tokens, and its current tokens are refused within a second."""
    from lgsp.auth.clients import ClientError, set_disabled

    try:
        set_disabled(engine_from_settings(), client_id, True)
    except ClientError as exc:
        fail(str(exc), 2)
    console.print(f"client {client_id} disabled")


@clients_app.command("list")
def clients_list() -> None:
    """List clients (never secrets)."""
    from rich.table import Table

    from lgsp.auth.clients import list_clients

    table = Table("client_id", "system", "scopes", "disabled")
    for c in list_clients(engine_from_settings()):
        table.add_row(c.client_id, c.system_id or "-", c.scopes, "yes" if c.disabled else "")
    console.print(table)
