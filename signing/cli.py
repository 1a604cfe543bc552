"""``lgsp verify FILE [--trust DIR] [--detached FILE] [--json]``: verify a signed file from the command line.

The exit code carries the verdict so scripts and CI can branch on it without parsing output:
0 TOTAL_PASSED, 1 TOTAL_FAILED, 3 INDETERMINATE, 4 could not run (unreadable file, no or bad trust anchors,
bad policy or configuration); 2 stays Click's own code for a usage error. Every input file gets a verdict:
a malformed one is ``TOTAL_FAILED / FORMAT_FAILURE`` (exit 1), never a traceback.

Defaults come from one place (:mod:`signing.config`): under ``lgsp`` the lgsp settings (``LGSP_TRUST_PATHS``,
``LGSP_SIGNATURE_POLICY_FILE``, or the ``LGSP_CONFIG`` file) — the same the gateway and
``POST /signatures/verify`` use; ``python -m signing.cli`` reads those two environment variables.
Only typer and the report model are imported here; the verifier and its libraries load once the file is read.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from .config import ConfigurationError, SignatureSettings

EXIT_CODES = {"TOTAL_PASSED": 0, "TOTAL_FAILED": 1, "INDETERMINATE": 3}
EXIT_CANNOT_RUN = 4
EXIT_USAGE = 2

#: Where the defaults come from; lgsp replaces this with its ``Settings`` (see ``lgsp.cli.verify``).
settings_provider: Callable[[], SignatureSettings] = SignatureSettings.from_environment


class _OneLineFormatter(logging.Formatter):
    """A library's log record as one line: pyhanko logs what it skips with ``exc_info``, which Python's
    last-resort handler printed as a traceback under the verdict. The report already says why."""

    def format(self, record: logging.LogRecord) -> str:
        message = " ".join(record.getMessage().split())
        exc = record.exc_info[1] if record.exc_info else None
        if exc is not None:
            message += f" ({type(exc).__name__}: {' '.join(str(exc).split())})"
        return f"note ({record.name}): {message}"[:1000]


@contextmanager
def _library_logs_as_notes() -> Iterator[None]:
    """While verifying, warnings of the libraries go to stderr one line each, unless logging is configured."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler = logging.StreamHandler()
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_OneLineFormatter())
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def _detached_documents(paths: list[Path]) -> dict[str, bytes]:
    """Documents by the name given and by file name, so a Reference URI can match either."""
    documents: dict[str, bytes] = {}
    for path in paths:
        data = path.read_bytes()
        documents[str(path)] = data
        documents.setdefault(path.name, data)
    return documents


def verify_command(
    file: Annotated[Path, typer.Argument(help="signed file: edXML/SOAP/XML, PDF, or JWS (compact or JSON)")],
    trust: Annotated[list[Path] | None, typer.Option(
        "--trust", help="trust anchor folder or PEM bundle (repeatable); default: the trust_paths setting "
                        "(LGSP_TRUST_PATHS)")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help="validation policy file (YAML/JSON); default: the signature_policy_file setting "
                         "(LGSP_SIGNATURE_POLICY_FILE), else built-in")] = None,
    content_type: Annotated[str | None, typer.Option(
        "--content-type", help="override format sniffing, e.g. application/pdf")] = None,
    must_cover: Annotated[list[str] | None, typer.Option(
        "--must-cover", help="XML: XPath the signature must protect (repeatable; default the whole document)")] = None,
    detached: Annotated[list[Path] | None, typer.Option(
        "--detached", help="a document a detached signature refers to (repeatable; matched by Reference URI "
                           "or file name; the detached JWS payload)")] = None,
) -> None:
    """Verify every signature in FILE; the exit code reflects the indication."""
    if must_cover:  # a path outside the safe subset is a usage error, before anything is read
        from .xmlcover import MustCoverError, check_must_cover
        from .xmltree import DEFAULT_NAMESPACES

        try:
            check_must_cover(must_cover, DEFAULT_NAMESPACES)
        except MustCoverError as exc:
            typer.echo(f"error: --must-cover: {exc}", err=True)
            raise typer.Exit(EXIT_USAGE) from exc
    try:
        base = settings_provider()
        settings = SignatureSettings(tuple(str(t) for t in trust) if trust else base.trust_paths,
                                     str(policy) if policy else base.policy_file)
        verifier = settings.verifier()
        data = file.read_bytes()
        documents = _detached_documents(detached or [])
    except (OSError, ValueError, ConfigurationError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from exc
    try:
        with _library_logs_as_notes():
            report = verifier.verify(data, content_type, must_cover=must_cover or None, detached=documents or None)
        output = report.to_json() if json_output else report.render_text()
    except Exception as exc:  # the verifier answers every input; this is a fault of ours, not of the file
        typer.echo(f"error: verification could not run: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from exc
    typer.echo(output)
    raise typer.Exit(EXIT_CODES[report.indication.value])


app = typer.Typer(add_completion=False, help="Verify XML, PDF and JWS signatures.")


@app.callback()
def _group() -> None:
    """Keeps ``verify`` a sub-command, as it is under ``lgsp``."""


app.command("verify")(verify_command)

if __name__ == "__main__":  # pragma: no cover
    app()
