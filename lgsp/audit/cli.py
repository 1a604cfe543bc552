"""`lgsp audit ...`: tail, verify, sign-head, export, redact, retention, keys.

Kept apart from ``lgsp/cli/main.py`` so the audit log's operator and auditor tooling lives next to
the code it drives; ``main.py`` only registers this sub-app.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from lgsp.cli.common import MAX_DAYS, console, engine_from_settings, fail, finite
from lgsp.settings import Settings
from lgsp.store.bounds import INT64_MAX

app = typer.Typer(help="The audit log: tail, verify, sign heads, export evidence, redact, retention.",
                  no_args_is_help=True)


def _heads() -> Any:
    from lgsp.audit.heads import HeadService

    return HeadService(engine_from_settings(), Settings.load())


@app.command("tail")
def audit_tail(
    limit: Annotated[int, typer.Option("-n", "--limit", help="How many recent entries.", min=1, max=1_000_000)] = 20,
    client: Annotated[str | None, typer.Option()] = None,
    service: Annotated[str | None, typer.Option()] = None,
    user_id: Annotated[str | None, typer.Option()] = None,
    message_id: Annotated[str | None, typer.Option()] = None,
    status: Annotated[int | None, typer.Option(min=0, max=999)] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time (UTC).")] = None,
    follow: Annotated[bool, typer.Option("-f", "--follow", help="Keep printing new entries.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the newest audit entries, optionally filtered and followed."""
    from rich.table import Table

    from lgsp.audit.query import AuditFilter, find_entries

    engine = engine_from_settings()
    f = AuditFilter(client=client, service=service, user_id=user_id, message_id=message_id, status=status,
                    since=since, limit=limit)
    entries = list(reversed(find_entries(engine, f, newest_first=True)))

    def show(rows: list[dict[str, Any]]) -> None:
        if as_json:
            for row in rows:
                print(json.dumps(row, ensure_ascii=False))
            return
        table = Table("#", "time", "client", "service", "method", "path", "user", "status", "ms", "problem")
        for row in rows:
            table.add_row(str(row["index"]), row["time"][:23], row["client"] or "-", row["service"] or "-",
                          row["method"], row["path"][:50], row["user_id"] or "-", str(row["status"]),
                          f"{row['latency_us'] / 1000:.1f}", (row["problem_type"] or "").rsplit("/", 1)[-1])
        console.print(table)

    show(entries)
    while follow:
        time.sleep(1)
        f.after = entries[-1]["index"] if entries else -1
        f.limit = 1000
        new = find_entries(engine, f)
        if new:
            entries = new
            show(new)


@app.command("verify")
def audit_verify(
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    trusted_keys: Annotated[Path | None, typer.Option(
        "--trusted-keys", help="Key list (GET /audit/keys) kept independently; default: the store's key table.",
        exists=True, dir_okay=False)] = None,
    known_head: Annotated[list[Path] | None, typer.Option(
        "--known-head", help="A head you kept (head JSON, receipt, bundle); the log must still contain it. "
        "Repeatable.", exists=True, dir_okay=False)] = None,
    trust: Annotated[Path | None, typer.Option(
        "--trust", help="Your trust file (log keys, witness keys, quorum); keys in the store are then ignored.",
        exists=True, dir_okay=False)] = None,
    state: Annotated[Path | None, typer.Option(
        "--state", help="Your state file: the largest checkpoint verified so far (created if absent).",
        dir_okay=False)] = None,
) -> None:
    """Recompute the tree and hash chain from the entries, check every signed head; exit 1 on any failure."""
    from lgsp.audit.evidence import audit_store
    from lgsp.audit.offline_verify import heads_in
    from lgsp.audit.printable import printable
    from lgsp.audit.sth import HeadVerificationError, LogKeyRing
    from lgsp.audit.trust import AuditState, TrustFile

    heads = _heads()
    try:
        ring = LogKeyRing.from_json(json.loads(trusted_keys.read_bytes())) if trusted_keys is not None else None
        known = [h for path in known_head or [] for h in heads_in(json.loads(path.read_bytes()))]
        trust_file = TrustFile.load(trust) if trust is not None else None
        state_file = AuditState.load(state) if state is not None else None
    except RecursionError:  # json's C parser gives up on deep nesting with this, not a ValueError
        fail("cannot read input: JSON nested too deeply", 2)
    except (OSError, ValueError, HeadVerificationError) as exc:
        fail(f"cannot read input: {printable(exc)}", 2)
    total = heads.tree.size()
    with _progress(quiet or total < 50_000) as progress:
        task = progress.add_task("recomputing", total=total)
        report = audit_store(heads.engine, heads, trust_file, state_file, known,
                             lambda n: progress.update(task, completed=n), ring)
    if report.passed:
        console.print(f"[green]OK[/] {report.entries_verified} entries, {report.heads_verified} signed heads; "
                      "tree, heads and chain intact")
        for check in report.checks:
            if check.ok is None:
                console.print(f"[yellow]note[/] {printable(check.name)}: {printable(check.detail)}")
        return
    for check in report.failures[:50]:
        console.print(f"[red]FAIL[/] {printable(check.name)}: {printable(check.detail)}", highlight=False)
    fail(f"{len(report.failures)} problem(s) in {report.entries_verified} entries")


@app.command("sign-head")
def sign_head() -> None:
    """Sign a tree head over the current log now (with a TSA token if LGSP_AUDIT_TSA_URL is set)."""
    heads = _heads()
    for _ in range(100):
        head = heads.sign(force=True)
        if head is not None:
            print(json.dumps(head.to_json(), indent=2))
            return
        time.sleep(0.05)
    fail("another process holds the head signing lock; retry")


keys_app = typer.Typer(help="The log keys: list (no sub-command), rotate, retire.", invoke_without_command=True)
app.add_typer(keys_app, name="keys")


@keys_app.callback()
def keys(ctx: typer.Context) -> None:
    """Print the published log keys (the GET /audit/keys document) for auditors to pin."""
    if ctx.invoked_subcommand is not None:
        return
    heads = _heads()
    _ = heads.signer  # loads (or creates) the log key and registers it, so it is listed
    print(json.dumps(heads.keyring().to_json(), indent=2))


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Replace the log key; the new key is announced in a checkpoint signed by the old one and witnessed."""
    from lgsp.audit.keys import KeyChangeError, rotate_key

    try:
        new, _note, outcomes = rotate_key(_heads())
    except (KeyChangeError, OSError) as exc:
        fail(str(exc), 2)
    console.print(f"new log key {new.key_id}; witnesses: {outcomes or 'none configured'}")


@keys_app.command("retire")
def keys_retire(key_id: Annotated[str, typer.Argument(help="The key id to stop trusting from now on.")]) -> None:
    """Retire a (non-current) log key: heads it signs after now are refused by witnesses and verifiers."""
    from lgsp.audit.keys import KeyChangeError, retire_key

    try:
        _note, outcomes = retire_key(_heads(), key_id)
    except KeyChangeError as exc:
        fail(str(exc), 2)
    console.print(f"key {key_id} retired; witnesses: {outcomes or 'none configured'}")


@app.command("trust-template")
def trust_template(
    quorum: Annotated[int | None, typer.Option(help="Witness cosignatures required; default: all.", min=0,
                                               max=1000)] = None,
    max_cosignature_age: Annotated[int | None, typer.Option(
        min=1, max=10**9,
        help="Seconds after which a cosignature no longer counts (freshness); default: no limit.")] = None,
) -> None:
    """Print a trust file from this deployment's keys and configured witnesses, for auditors to CHECK and keep.

    An auditor must confirm every key id and witness key through their own channel before relying on it:
    a template printed by the operator is only a convenience.
    """
    from lgsp.audit.checkpoints import parse_witnesses
    from lgsp.audit.trust import TrustFile

    heads = _heads()
    _ = heads.signer
    witnesses = [w.verifier for w in parse_witnesses(heads.settings.audit_witnesses)]
    chosen = len(witnesses) if quorum is None else quorum
    if not 0 <= chosen <= len(witnesses):
        fail(f"--quorum {chosen} needs at least {chosen} witnesses, and this deployment has {len(witnesses)} "
             "configured (LGSP_AUDIT_WITNESSES, docs/auditors.md §6a); --quorum must be between 0 and "
             f"{len(witnesses)}", 2)
    trust = TrustFile(heads.settings.audit_checkpoint_origin, heads.keyring(), witnesses, chosen,
                      max_cosignature_age)
    print(json.dumps(trust.to_json(), indent=2))


class ExportFormat(StrEnum):
    bundle = "bundle"
    json = "json"
    csv = "csv"


class ProofMode(StrEnum):
    entry = "entry"
    range = "range"


@app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="Output file ('-' for stdout).")],
    start: Annotated[int, typer.Option("--from", help="First index (inclusive).", min=0, max=INT64_MAX)] = 0,
    end: Annotated[int | None, typer.Option("--to", help="Last index (exclusive); default: end of log.", min=0,
                                            max=INT64_MAX)] = None,
    client: Annotated[str | None, typer.Option()] = None,
    service: Annotated[str | None, typer.Option()] = None,
    user_id: Annotated[str | None, typer.Option()] = None,
    message_id: Annotated[str | None, typer.Option()] = None,
    status: Annotated[int | None, typer.Option(min=0, max=999)] = None,
    since: Annotated[datetime | None, typer.Option(help="ISO time (UTC), inclusive.")] = None,
    until: Annotated[datetime | None, typer.Option(help="ISO time (UTC), exclusive.")] = None,
    fmt: Annotated[ExportFormat, typer.Option("--format", help="bundle: evidence for lgsp-audit-verify; "
                                              "json/csv: a listing for reading.")] = ExportFormat.bundle,
    proofs: Annotated[ProofMode, typer.Option(help="bundle proofs: one per entry, or one range proof "
                                              "(unfiltered exports only, much smaller).")] = ProofMode.entry,
    prove_omissions: Annotated[bool, typer.Option(
        "--prove-omissions", help="Filtered bundles: also include (with proofs) the range's entries that do not "
        "match, so the verifier can prove the export complete.")] = False,
    include_head: Annotated[list[int] | None, typer.Option(
        "--include-head", help="Also include the stored head of this size (e.g. your last verified "
        "checkpoint). Repeatable.", min=1, max=INT64_MAX)] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Export entries [--from, --to) with filters: a self-contained JSON bundle, or a CSV/JSON listing."""
    from lgsp.audit.evidence import EvidenceError, count_entries, export_bundle, iter_entries
    from lgsp.audit.query import AuditFilter, entry_to_dict

    heads = _heads()
    engine = heads.engine
    filtered = any(v is not None for v in (client, service, user_id, message_id, status, since, until))
    f = AuditFilter(client=client, service=service, user_id=user_id, message_id=message_id, status=status,
                    since=since, until=until) if filtered else None
    size = heads.tree.size()
    stop = size if end is None else min(end, size)
    total = count_entries(engine, f, start, stop)
    out = sys.stdout if str(file) == "-" else file.open("w", encoding="utf-8", newline="")
    try:
        with _progress(quiet or str(file) == "-" or total < 1000) as progress:
            task = progress.add_task(f"exporting {fmt.value}", total=total)

            def tick(done: int) -> None:
                progress.update(task, completed=done)

            if fmt is ExportFormat.bundle:
                try:
                    bundle = export_bundle(engine, heads, start, stop, f, tick, proofs.value,
                                           prove_omissions=prove_omissions, include_heads=include_head or ())
                except EvidenceError as exc:
                    fail(str(exc), 2)
                json.dump(bundle, out, ensure_ascii=False)
            else:
                rows = (entry_to_dict(_Row(r)) for r in iter_entries(engine, f, start, stop))  # type: ignore[arg-type]
                _write_listing(out, rows, fmt, tick)
    finally:
        if out is not sys.stdout:
            out.close()
    if str(file) != "-":
        console.print(f"exported {total} entries [{start}, {stop}) to {file} ({fmt.value})")


class _Row:
    """Attribute access over a column dict, so :func:`entry_to_dict` formats it like an ORM row."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.__dict__.update(data)


def _write_listing(out: Any, rows: Any, fmt: ExportFormat, tick: Any) -> None:
    if fmt is ExportFormat.json:
        out.write("[")
        for n, row in enumerate(rows, start=1):
            out.write(("," if n > 1 else "") + "\n" + json.dumps(row, ensure_ascii=False))
            tick(n)
        out.write("\n]\n")
        return
    writer: Any = None
    for n, row in enumerate(rows, start=1):
        if writer is None:
            writer = csv.DictWriter(out, fieldnames=list(row))
            writer.writeheader()
        writer.writerow({**row, "extra": json.dumps(row["extra"], ensure_ascii=False, sort_keys=True)})
        tick(n)


@app.command("redact")
def redact(index: Annotated[int, typer.Argument(help="Entry index whose kept bodies are erased.", min=0,
                                               max=INT64_MAX)]) -> None:
    """Erase the kept request/response bodies of one entry; the entry, its hashes and proofs stay valid."""
    from lgsp.audit.heads import redact_bodies

    if redact_bodies(engine_from_settings(), index):
        console.print(f"bodies of entry {index} redacted (entry and proofs unchanged)")
    else:
        fail(f"entry {index} has no kept bodies", 2)


@app.command("retention")
def retention(
    older_than: Annotated[float, typer.Option(
        "--older-than", help="Days: drop kept bodies of older entries.", min=0, max=MAX_DAYS, callback=finite)],
) -> None:
    """Drop kept bodies of entries older than DAYS; entries and signed heads are never dropped."""
    from lgsp.audit.heads import apply_retention

    if older_than < 0:
        fail("--older-than must be >= 0", 2)
    dropped = apply_retention(engine_from_settings(), older_than)
    console.print(f"dropped bodies of {dropped} entr{'y' if dropped == 1 else 'ies'} older than {older_than} days")


def _progress(disable: bool) -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                    console=console, disable=disable, transient=True)
