"""``lgsp conformance vdxp|dvcqg|ngsp``: run a suite against an endpoint, print a summary, write JUnit XML.

Secrets are read from the environment (``VDXP_SECRET``, ``DVCQG_PASSWORD``...) or the options, and handed
to the suite through the child process' environment, never its command line.

Exit codes (docs/protocols/edxml.md §6): 0 conformant, 1 not conformant (checks ran and some failed),
2 usage error (an option, the URL, the report path), 3 could not judge (the target does not answer, the
suite did not run to the end or ran over --time-limit, or every check was skipped).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from lgsp.cli.common import console, fail, finite
from lgsp.conformance.runner import Report, ReportPathError, SuiteError, run_suite
from lgsp.conformance.target import TargetError, check_url, preflight

CONFORMANT, NOT_CONFORMANT, USAGE, NOT_JUDGED = 0, 1, 2, 3

app = typer.Typer(help="Conformance suites against any endpoint: summary + JUnit XML.", no_args_is_help=True)

JunitOption = Annotated[Path | None, typer.Option("--junit-xml", help="Write the JUnit XML report here.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Also print pytest's own output.")]
TimeLimitOption = Annotated[float, typer.Option("--time-limit", min=1, max=86_400, callback=finite,
                                                 help="Stop the suite after SECONDS (exit 3).")]


def _summary(report: Report, verbose: bool) -> None:
    if verbose:
        console.print(escape(report.output))
    subjects: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for case in report.cases:
        if case.subject and case.outcome != "skipped":
            subjects[case.subject][case.outcome] += 1
    if subjects:
        table = Table(title=f"{report.suite}: per subject (e.g. producer file)")
        for column in ("subject", "passed", "failed"):
            table.add_column(column)
        for subject, counts in sorted(subjects.items()):
            failed = counts["failed"] + counts["error"]
            table.add_row(escape(subject), str(counts["passed"]), f"[red]{failed}[/]" if failed else "0")
        console.print(table)
    problems = [c for c in report.cases if c.outcome in ("failed", "error")]
    if problems:
        table = Table(title="failed checks")
        for column in ("check", "subject", "why"):
            table.add_column(column, overflow="fold")
        for case in problems:
            table.add_row(escape(case.check), escape(case.subject), escape(case.message))
        console.print(table)
    for note in report.warnings():
        console.print(f"[yellow]warning[/]: {escape(note)}")
    skipped: dict[str, int] = defaultdict(int)
    for case in report.cases:
        if case.outcome == "skipped":
            skipped[case.message] += 1
    for reason, count in sorted(skipped.items()):
        console.print(f"[yellow]skipped {count}[/]: {escape(reason)}")
    if not report.judged:
        console.print(f"[bold yellow]NOTHING CHECKED[/] — {report.suite}: every check was skipped (see the reasons "
                      f"above); JUnit XML: {escape(str(report.junit_xml))}")
        if not report.cases:
            console.print(escape(report.output[-3000:]))
        return
    verdict = "[bold green]CONFORMANT[/]" if report.ok else "[bold red]NOT CONFORMANT[/]"
    console.print(f"{verdict} — {report.suite}: {report.count('passed')} passed, {report.count('failed')} failed, "
                  f"{report.count('error')} errors, {report.count('skipped')} skipped; "
                  f"JUnit XML: {escape(str(report.junit_xml))}")


def _finish(report: Report, verbose: bool) -> None:
    _summary(report, verbose)
    if not report.judged:
        raise typer.Exit(NOT_JUDGED)
    raise typer.Exit(CONFORMANT if report.ok else NOT_CONFORMANT)


def _target(url: str) -> str:
    """``url`` checked (a bad one is a usage error) and answering (no answer: nothing to judge)."""
    try:
        check_url(url)
    except ValueError as exc:
        fail(str(exc), USAGE)
    try:
        preflight(url)
    except TargetError as exc:
        fail(f"could not judge: {exc}", NOT_JUDGED)
    return url


def _packet_dir(directory: Path) -> Path:
    """``--edxml-dir``: a readable directory holding at least one ``*.edxml``/``*.xml`` (else usage error)."""
    if not directory.is_dir():
        fail(f"--edxml-dir {directory} is not a directory", USAGE)
    try:
        found = any(p.suffix.lower() in (".edxml", ".xml") for p in directory.iterdir())
    except OSError as exc:
        fail(f"--edxml-dir {directory}: cannot list it ({exc.strerror or exc})", USAGE)
    if not found:
        fail(f"--edxml-dir {directory} holds no *.edxml or *.xml file (subfolders are not searched)", USAGE)
    return directory


def _run(suite: str, args: list[str], env: dict[str, str], junit: Path | None, time_limit: float) -> Report:
    try:
        return run_suite(suite, args, env=env, junit_xml=junit, timeout=time_limit)
    except (ValueError, FileNotFoundError, ReportPathError) as exc:
        fail(escape(str(exc)), USAGE)
    except SuiteError as exc:
        fail(f"could not judge: {escape(str(exc))}", NOT_JUDGED)


@app.command("vdxp")
def vdxp(
    target: Annotated[str | None, typer.Option(help="Axis base URL (omit to judge --edxml-dir only).")] = None,
    system_id: Annotated[str | None, typer.Option(help="Sending system id.")] = None,
    secret: Annotated[str | None, typer.Option(envvar="VDXP_SECRET", help="HMAC secret (env VDXP_SECRET).")] = None,
    sender: Annotated[str | None, typer.Option(help="Agency the system sends as.")] = None,
    recipient: Annotated[str | None, typer.Option(help="Agency that receives the test documents.")] = None,
    recv_system_id: Annotated[str | None, typer.Option(help="System receiving for --recipient.")] = None,
    recv_secret: Annotated[str | None, typer.Option(envvar="VDXP_RECV_SECRET", help="Its secret.")] = None,
    allow_send: Annotated[bool, typer.Option(help="Also send test documents (never against production).")] = False,
    edxml_dir: Annotated[Path | None, typer.Option(help="Judge the *.edxml packets in this folder.")] = None,
    junit_xml: JunitOption = None,
    verbose: VerboseOption = False,
    time_limit: TimeLimitOption = 1800,
) -> None:
    """The national document-exchange axis (and/or a folder of a partner's edXML packets)."""
    if target is None and edxml_dir is None:
        fail("give --target URL (an axis) and/or --edxml-dir DIR (a partner's packets)", USAGE)
    if edxml_dir is not None:
        _packet_dir(edxml_dir)
    if target is not None:
        _target(target)
    env = {"VDXP_URL": target or "", "VDXP_SYSTEM_ID": system_id or "", "VDXP_SECRET": secret or "",
           "VDXP_SENDER": sender or "", "VDXP_RECIPIENT": recipient or "",
           "VDXP_RECV_SYSTEM_ID": recv_system_id or "", "VDXP_RECV_SECRET": recv_secret or "",
           "VDXP_ALLOW_SEND": "1" if allow_send else "0", "EDXML_DIR": str(edxml_dir.resolve()) if edxml_dir else ""}
    _finish(_run("vdxp", [], env, junit_xml, time_limit), verbose)


@app.command("dvcqg")
def dvcqg(
    target: Annotated[str, typer.Option(help="adapter_url of the DVCQG endpoint.")],
    username: Annotated[str | None, typer.Option(envvar="DVCQG_USERNAME")] = None,
    password: Annotated[str | None, typer.Option(envvar="DVCQG_PASSWORD")] = None,
    madonvi: Annotated[str | None, typer.Option(help="Agency code sent as madonvi.")] = None,
    tthc: Annotated[str | None, typer.Option(help="A procedure code the endpoint knows.")] = None,
    allow_writes: Annotated[bool, typer.Option(help="Push test dossiers (never against production).")] = False,
    junit_xml: JunitOption = None,
    verbose: VerboseOption = False,
    time_limit: TimeLimitOption = 1800,
) -> None:
    """The national public-service portal (DVCQG) integration API."""
    _target(target)
    env = {"DVCQG_URL": target, "DVCQG_USERNAME": username or "", "DVCQG_PASSWORD": password or "",
           "DVCQG_MADONVI": madonvi or "", "DVCQG_TTHC": tthc or "", "DVCQG_ALLOW_WRITES": "1" if allow_writes else ""}
    _finish(_run("dvcqg", ["--dvcqg-allow-writes"] if allow_writes else [], env, junit_xml, time_limit), verbose)


@app.command("ngsp")
def ngsp(
    target: Annotated[str, typer.Option(help="SOAP endpoint URL.")],
    client: Annotated[str | None, typer.Option(help="X-Road client id, e.g. VN/GOV/000.00.12.H10/LGSP.")] = None,
    provider: Annotated[str | None, typer.Option(help="X-Road provider id.")] = None,
    junit_xml: JunitOption = None,
    verbose: VerboseOption = False,
    time_limit: TimeLimitOption = 1800,
) -> None:
    """An NGSP (X-Road style SOAP) endpoint."""
    _target(target)
    env = {"NGSP_URL": target, **({"NGSP_XROAD_CLIENT": client} if client else {}),
           **({"NGSP_XROAD_PROVIDER": provider} if provider else {})}
    _finish(_run("ngsp", [], env, junit_xml, time_limit), verbose)
