"""``lgsp verify FILE [--trust DIR] [--json]``: verify a signed file from the command line.

The exit code carries the verdict so scripts and CI can branch on it without parsing output:
0 TOTAL_PASSED, 1 TOTAL_FAILED, 3 INDETERMINATE, 4 could not run (unreadable file, trust or policy).
(2 stays Click's own code for a usage error.) The lead mounts :func:`verify_command` on the ``lgsp`` app;
``python -m signing.cli`` runs it standalone.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .api import Verifier
from .policy import Policy
from .report import Indication
from .trust import TrustStore, TrustStoreError

EXIT_CODES = {Indication.TOTAL_PASSED: 0, Indication.TOTAL_FAILED: 1, Indication.INDETERMINATE: 3}
EXIT_CANNOT_RUN = 4
TRUST_ENV = "LGSP_TRUST_DIR"
POLICY_ENV = "LGSP_SIGNATURE_POLICY"


def verify_command(
    file: Annotated[Path, typer.Argument(help="signed file: edXML/SOAP/XML, PDF, or JWS (compact or JSON)")],
    trust: Annotated[list[Path] | None, typer.Option(
        "--trust", help=f"trust anchor folder or PEM bundle (repeatable); default ${TRUST_ENV}")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    policy: Annotated[Path | None, typer.Option(
        "--policy", help=f"validation policy file (YAML/JSON); default ${POLICY_ENV} or built-in")] = None,
    content_type: Annotated[str | None, typer.Option(
        "--content-type", help="override format sniffing, e.g. application/pdf")] = None,
    must_cover: Annotated[list[str] | None, typer.Option(
        "--must-cover", help="XML: XPath the signature must protect (repeatable; default the whole document)")] = None,
) -> None:
    """Verify every signature in FILE; the exit code reflects the indication."""
    try:
        trust_paths = trust or ([Path(os.environ[TRUST_ENV])] if os.environ.get(TRUST_ENV) else [])
        if not trust_paths:
            raise TrustStoreError(
                f"no trust anchors: pass --trust DIR or set {TRUST_ENV} (nothing is trusted by default)")
        store = TrustStore.from_paths(trust_paths)
        policy_path = policy or (Path(os.environ[POLICY_ENV]) if os.environ.get(POLICY_ENV) else None)
        rules = Policy.from_file(policy_path) if policy_path else Policy()
        data = file.read_bytes()
    except (OSError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_CANNOT_RUN) from exc
    report = Verifier(store, rules).verify(data, content_type, must_cover=must_cover or None)
    typer.echo(report.to_json() if json_output else report.render_text())
    raise typer.Exit(EXIT_CODES[report.indication])


app = typer.Typer(add_completion=False, help="Verify XML, PDF and JWS signatures.")


@app.callback()
def _group() -> None:
    """Keeps ``verify`` a sub-command, as it is under ``lgsp``."""


app.command("verify")(verify_command)

if __name__ == "__main__":  # pragma: no cover
    app()
