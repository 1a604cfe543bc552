"""`lgsp keys ...`: the private keys lgsp uses (token signing, audit log), where they live, rotation."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from lgsp.cli.common import console, engine_from_settings
from lgsp.settings import Settings

keys_app = typer.Typer(help="Private keys (token signing, audit log): where they live, rotation.",
                       no_args_is_help=True)


@keys_app.command("list")
def keys_list(as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False) -> None:
    """Every private key lgsp uses and where it lives (KEK-wrapped, HSM); never the key itself."""
    from lgsp.auth.keys import KeyRing
    from lgsp.keys.audit import describe_log_key

    settings = Settings.load()
    rows = [{**row, "created_at": str(row["created_at"] or ""), "retired_at": str(row["retired_at"] or "")}
            for row in KeyRing(engine_from_settings(), settings.token_lifetime_seconds, settings).describe()]
    rows.append({"kid": "-", "created_at": "", "retired_at": "", **describe_log_key(settings)})
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    from rich.table import Table

    table = Table("key", "use", "created", "retired", "backend", "where")
    for row in rows:
        table.add_row(row["kid"], row["use"], row["created_at"][:19], row["retired_at"][:19] or "-",
                      row["backend"], row["where"])
    console.print(table)
    console.print(f"new keys go to: [bold]{settings.key_backend}[/]")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start signing tokens with a new key; the old one verifies until its tokens expire."""
    from lgsp.auth.keys import KeyRing

    settings = Settings.load()
    kid = KeyRing(engine_from_settings(), settings.token_lifetime_seconds, settings).rotate()
    console.print(f"new signing key {kid}")
