"""``lgsp deliveries list|show|replay|purge|run``: the operator's view of the outbox."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table

from lgsp.cli.common import MAX_DAYS, console, engine_from_settings, fail, finite
from lgsp.delivery import operations as ops

app = typer.Typer(help="Durable deliveries (the outbox): inspect, replay, purge.", no_args_is_help=True)


@app.command("list")
def list_cmd(
    state: Annotated[str | None, typer.Option(help="pending, in_flight, delivered or dead.")] = None,
    kind: Annotated[str | None, typer.Option(help="Handler name, e.g. dvcqg.dossier or http.")] = None,
    key: Annotated[str | None, typer.Option(help="Ordering key (e.g. a dossier code).")] = None,
    limit: Annotated[int, typer.Option("-n", "--limit", min=1, max=1_000_000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List messages, newest first, with the counts per state."""
    engine = engine_from_settings()
    try:
        rows = ops.list_messages(engine, state, kind, key, limit)
    except ops.OperationError as exc:
        fail(str(exc), 2)
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return
    table = Table("message id", "kind", "state", "tries", "key", "created", "remote id", "last error")
    for row in rows:
        table.add_row(row["message_id"], row["kind"], row["state"], str(row["attempts"]), row["ordering_key"] or "-",
                      (row["created_at"] or "")[:19], row["remote_id"] or "-", (row["last_error"] or "")[:80])
    console.print(table)
    console.print("  ".join(f"{name}: {n}" for name, n in ops.counts(engine).items()))


@app.command("show")
def show_cmd(message_id: Annotated[str, typer.Argument(help="Message id or its first 8+ characters.")]) -> None:
    """Everything about one message, its payload included (JSON)."""
    try:
        row = ops.find(engine_from_settings(), message_id)
    except ops.OperationError as exc:
        fail(str(exc), 2)
    print(json.dumps(row, ensure_ascii=False, indent=2))


@app.command("replay")
def replay_cmd(
    message_ids: Annotated[list[str] | None, typer.Argument(help="Message ids (or 8+ character prefixes).")] = None,
    all_dead: Annotated[bool, typer.Option("--all-dead", help="Replay every dead message.")] = False,
    include_delivered: Annotated[bool, typer.Option("--include-delivered",
                                                    help="Also send delivered messages again.")] = False,
) -> None:
    """Send dead (or, on request, delivered) messages again; each replay is audited."""
    if not message_ids and not all_dead:
        fail("name the messages to replay, or use --all-dead", 2)
    try:
        done = ops.replay(engine_from_settings(), message_ids or [], all_dead=all_dead,
                          include_delivered=include_delivered)
    except ops.OperationError as exc:
        fail(str(exc), 2)
    for item in done:
        console.print(f"replayed {item.message_id} (was {item.previous_state}, audit #{item.audit_index})")
    console.print(f"{len(done)} message(s) queued again")


@app.command("purge")
def purge_cmd(
    older_than_days: Annotated[float, typer.Option(
        "--older-than-days", help="Age of the last change.", min=0, max=MAX_DAYS, callback=finite)] = 30.0,
    state: Annotated[list[str] | None, typer.Option(help="delivered and/or dead (default both).")] = None,
) -> None:
    """Delete finished messages (delivered, dead) older than the cut-off; open ones are never touched."""
    try:
        n = ops.purge(engine_from_settings(), timedelta(days=older_than_days), state or ops.FINISHED_STATES)
    except ops.OperationError as exc:
        fail(str(exc), 2)
    console.print(f"purged {n} message(s)")


@app.command("run")
def run_cmd() -> None:
    """Run only the delivery loop in the foreground (``lgsp worker`` runs it too)."""
    from lgsp.delivery.__main__ import run

    run()
