"""``lgsp-audit-verify FILE``: verify an audit bundle or receipt with no database and no network.

Why a separate entry point: the auditor should not need to install or trust the gateway, configure
a database, or reach our servers. Everything checked is in the file; the only outside input the
auditor should add is *which log keys to trust* (``--trusted-keys``, the ``GET /audit/keys``
document obtained independently) and, if heads are timestamped, the TSA's root certificate.

Exit status: 0 = every check passed; 1 = at least one check failed (tampering, bad proof, unknown
key, ...); 2 = the file or an option could not be read at all.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lgsp.audit.bundle import Report, verify_bundle
from lgsp.audit.printable import printable
from lgsp.audit.sth import HeadVerificationError, LogKeyRing, LogPublicKey, SignedTreeHead
from lgsp.audit.trust import (
    AuditState,
    TrustFile,
    check_quorum,
    check_state,
    check_untrusted_keys,
    finish_state,
    follow_key_events,
)

__all__ = ["main"]

EXIT_OK, EXIT_FAILED, EXIT_UNREADABLE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lgsp-audit-verify",
        description="Verify an lgsp audit bundle or receipt offline (no database, no network).",
    )
    parser.add_argument("file", type=Path, help="bundle or receipt JSON (`lgsp audit export`, or the API)")
    parser.add_argument(
        "--trusted-keys", type=Path, metavar="KEYS.json",
        help="the log's key list (GET /audit/keys) obtained independently; heads must be signed by these",
    )
    parser.add_argument(
        "--tsa-root", type=Path, metavar="ROOT.pem", help="trust this TSA root certificate to check tokens"
    )
    parser.add_argument(
        "--known-head", type=Path, action="append", default=[], metavar="FILE",
        help="a head you kept earlier (head JSON, receipt or bundle); it must be part of this log",
    )
    parser.add_argument(
        "--trust", type=Path, metavar="TRUST.json",
        help="your trust file: log keys, witness keys and quorum (keys in the bundle are then ignored)",
    )
    parser.add_argument(
        "--state", type=Path, metavar="STATE.json",
        help="your state file: the largest checkpoint verified so far; smaller or forked views fail",
    )
    parser.add_argument(
        "--allow-incomplete", action="store_true",
        help="accept a filtered export whose completeness is not provable (a note instead of a failure)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead of a table")
    parser.add_argument("--quiet", action="store_true", help="print only the failures and the verdict line")
    return parser


def _print_report(report: Report, console: Console, quiet: bool) -> None:
    if not quiet:
        table = Table(title="lgsp audit bundle verification", show_lines=False)
        table.add_column("check")
        table.add_column("result")
        table.add_column("detail", overflow="fold")
        marks = {True: "[green]ok[/]", False: "[bold red]FAILED[/]", None: "[yellow]note[/]"}
        for check in report.checks:
            table.add_row(printable(check.name), marks[check.ok], printable(check.detail))
        console.print(table)
    else:
        for check in report.failures:  # quiet still names every failure and its reason
            console.print(f"[bold red]FAIL[/] {printable(check.name)}: {printable(check.detail)}", soft_wrap=True)
    if report.passed:
        counts = f"{report.entries_verified} entries, {report.heads_verified} signed heads"
        console.print(f"[bold green]VERIFIED[/]: {counts}")
    else:
        console.print(f"[bold red]NOT VERIFIED[/]: {len(report.failures)} check(s) failed")


def heads_in(document: Any) -> list[SignedTreeHead]:
    """The heads in a head document, a receipt or a bundle (what an auditor may have kept)."""
    if isinstance(document, dict) and isinstance(document.get("heads"), list):
        return [SignedTreeHead.from_json(h) for h in document["heads"]]
    return [SignedTreeHead.from_json(document)]


def _newest_head(bundle: Any, ring: LogKeyRing | None) -> SignedTreeHead | None:
    """The largest head in the bundle that verifies (the 'view' the bundle presents as current)."""
    best = None
    for raw in bundle.get("heads") or [] if isinstance(bundle, dict) else []:
        try:
            head = SignedTreeHead.from_json(raw)
            if ring is not None:
                ring.verify(head)
        except HeadVerificationError:
            continue
        if best is None or head.tree_size > best.tree_size:
            best = head
    return best


def _check_trust_and_state(report: Report, bundle: Any, trust: TrustFile | None, state: AuditState | None,
                           ring: LogKeyRing | None) -> None:
    try:
        view = _newest_head(bundle, ring)
        if trust is not None:
            shown = []
            for raw in bundle.get("keys") or []:
                try:
                    shown.append(LogPublicKey.from_json(raw))
                except HeadVerificationError:
                    continue
            check_untrusted_keys(report, trust, shown, "bundle")
            if bundle.get("origin") not in (None, trust.origin):
                report.add("origin", False, f"the bundle is for log {bundle.get('origin')!r}, your trust file for "
                           f"{trust.origin!r}")
            cosigs = bundle.get("cosignatures") or {}
            lines = cosigs.get(str(view.tree_size), []) if view is not None and isinstance(cosigs, dict) else []
            check_quorum(report, trust, view, [str(x) for x in lines] if isinstance(lines, list) else [])
        if state is not None:
            origin = trust.origin if trust is not None else None
            check_state(report, state, view, origin)
            finish_state(report, state, view, origin)
    except Exception as exc:  # malformed input ends in the FAIL list, never a traceback
        report.add("trust", False, f"malformed content stopped the trust checks: {type(exc).__name__}: {exc}")


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status (see module docstring)."""
    args = _parser().parse_args(argv)
    console = Console(highlight=False)
    logging.getLogger("pyhanko").setLevel(logging.CRITICAL)  # its own chatter would drown the verdict
    logging.getLogger("pyhanko_certvalidator").setLevel(logging.CRITICAL)
    try:
        bundle = json.loads(args.file.read_bytes())
        trusted = None
        if args.trusted_keys is not None:
            trusted = LogKeyRing.from_json(json.loads(args.trusted_keys.read_bytes()))
        tsa_roots = args.tsa_root.read_bytes() if args.tsa_root is not None else None
        known = [head for path in args.known_head for head in heads_in(json.loads(path.read_bytes()))]
        trust = TrustFile.load(args.trust) if args.trust is not None else None
        state = AuditState.load(args.state) if args.state is not None else None
    except RecursionError:  # json's C parser gives up on deep nesting with this, not a ValueError
        console.print("[bold red]ERROR[/]: cannot read input: JSON nested too deeply")
        return EXIT_UNREADABLE
    except (OSError, ValueError, HeadVerificationError) as exc:
        console.print(f"[bold red]ERROR[/]: cannot read input: {printable(exc)}", soft_wrap=True)
        return EXIT_UNREADABLE
    pre = Report()
    if trust is not None:
        try:  # the announcements come from the file: whatever they hold ends in the FAIL list, as in the DB verifier
            events = bundle.get("key_events") if isinstance(bundle, dict) else None
            follow_key_events(pre, trust, [str(n) for n in events] if isinstance(events, list) else [])
        except Exception as exc:
            pre.add("key events", False, f"the key announcements cannot be read: {type(exc).__name__}: {exc}")
        trusted = trust.ring
    if state is not None and state.head is not None:
        known.append(state.head)
    report = verify_bundle(bundle, trusted_keys=trusted, tsa_roots=tsa_roots, known_heads=known,
                           allow_incomplete=args.allow_incomplete)
    report.checks[:0] = pre.checks
    _check_trust_and_state(report, bundle, trust, state, trusted)
    if args.json:
        print(json.dumps({
            "passed": report.passed,
            "entries_verified": report.entries_verified,
            "heads_verified": report.heads_verified,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in report.checks],
        }, ensure_ascii=False, indent=2))
    else:
        _print_report(report, console, args.quiet)
    return EXIT_OK if report.passed else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
