"""`lgsp users ...`: local console accounts (the embedded default when no identity provider is configured)."""

from __future__ import annotations

import secrets
from typing import Annotated

import typer
from rich.table import Table

from lgsp.cli.common import console, engine_from_settings, fail
from lgsp.console import accounts
from lgsp.console.roles import ROLES

app = typer.Typer(help="Console accounts: create, list, disable, passwd.", no_args_is_help=True)


@app.command("create")
def create(
    username: Annotated[str, typer.Argument(help="Login name (lower-case).")],
    role: Annotated[str, typer.Option(help=f"One of: {', '.join(ROLES)}.")] = "observer",
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    password: Annotated[str | None, typer.Option(help="Password (default: a random one, printed once).",
                                                 envvar="LGSP_NEW_USER_PASSWORD")] = None,
) -> None:
    """Create a console account; prints the password once when it was generated."""
    generated = password is None
    secret = password or secrets.token_urlsafe(15)
    try:
        accounts.create_user(engine_from_settings(), username, role, secret, name)
    except accounts.AccountError as exc:
        fail(f"{exc.field}: {exc}", code=4)
    console.print(f"created {username} ({role})" + (f"; password: {secret}" if generated else ""))


@app.command("list")
def list_users() -> None:
    """Every console account with its role, origin and state."""
    table = Table("username", "role", "source", "state")
    for user in accounts.list_users(engine_from_settings()):
        state = "disabled" if user.disabled else ("locked" if user.locked_until else "active")
        table.add_row(user.username, user.role, user.source, state)
    console.print(table)


@app.command("disable")
def disable(username: Annotated[str, typer.Argument()]) -> None:
    """Disable an account (its sessions stop working at the next page view)."""
    try:
        accounts.set_disabled(engine_from_settings(), username)
    except accounts.AccountError as exc:
        fail(str(exc), code=4)
    console.print(f"disabled {username}")


@app.command("passwd")
def passwd(
    username: Annotated[str, typer.Argument()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True,
                                          envvar="LGSP_NEW_USER_PASSWORD")],
) -> None:
    """Set a new password (also unlocks the account and ends its sessions)."""
    try:
        accounts.set_password(engine_from_settings(), username, password)
    except accounts.AccountError as exc:
        fail(f"{exc.field}: {exc}", code=4)
    console.print(f"password changed for {username}")
