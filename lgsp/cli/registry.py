"""`lgsp apply FILE` and `lgsp registry ...`: the service registry (agencies, systems, services, grants)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lgsp.cli.common import console, engine_from_settings, fail, finite

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

registry_app = typer.Typer(help="The service registry.", no_args_is_help=True)


def apply_file(
    file: Annotated[Path, typer.Argument(help="Registry YAML file.", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, change nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Also remove what the file does not list.")] = False,
) -> None:
    """Make the registry match FILE, showing what changes (idempotent)."""
    from lgsp.settings import Settings
    from registry.declarative import RegistryFileError, apply, parse_registry_file
    from registry.operations import RegistryError
    from registry.yaml_file import MAX_FILE_BYTES

    try:
        with file.open("rb") as handle:  # bounded: PyYAML builds the whole document in memory, slowly
            raw = handle.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            raise RegistryFileError("file", f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RegistryFileError("file", f"not UTF-8 text (byte {exc.start})") from None
        desired = parse_registry_file(text)
        changes = apply(engine_from_settings(), desired, dry_run=dry_run, prune=prune,
                        schemas_dir=Path(Settings.load().schemas_dir))
    except (RegistryFileError, RegistryError) as exc:
        where = getattr(exc, "field", None) or getattr(exc, "where", "")
        said = str(exc)  # a RegistryFileError's own text starts with where it is
        fail(f"{file}: {where}: {said}" if where and not said.startswith(f"{where}:") else f"{file}: {said}", 2)
    if not changes:
        console.print("no changes")
        return
    colour = {"+": "green", "~": "yellow", "-": "red"}
    for change in changes:
        console.print(f"[{colour[change.action]}]{change.render()}[/]", highlight=False)
    verb = "would change" if dry_run else "changed"
    console.print(f"{verb} {len(changes)} item(s)")


@registry_app.command("export")
def registry_export() -> None:
    """Print the registry as YAML (the `lgsp apply` format)."""
    from registry.declarative import export

    sys.stdout.write(export(engine_from_settings()))


@registry_app.command("list")
def registry_list() -> None:
    """List services and who may call them."""
    from rich.table import Table

    from registry.snapshot import load_snapshot

    snapshot = load_snapshot(engine_from_settings())
    table = Table("service", "kind", "base URL", "clients granted")
    for service in sorted(snapshot.services.values(), key=lambda s: s.id):
        granted = sorted({client for (client, sid) in snapshot.grants if sid == service.id})
        table.add_row(service.id, service.kind, service.base_url, "\n".join(granted) or "-")
    console.print(table)


def _registry_change(change: Callable[[Session], object]) -> None:
    """Run one validated registry change in a transaction; invalid input exits 2 naming the field."""
    from sqlalchemy.orm import Session

    from lgsp.store.db import writer
    from registry import operations as ops

    try:
        with Session(writer(engine_from_settings())) as session, session.begin():
            change(session)
    except ops.RegistryError as exc:
        fail(f"{exc.field}: {exc}", 2)
    except ops.RegistryNotFound as exc:
        fail(str(exc), 2)


@registry_app.command("add-agency")
def add_agency(code: str, name: str, parent: Annotated[str | None, typer.Option()] = None) -> None:
    """Register (or rename) an agency by its code NNN.NN.NN.XNN."""
    from registry import operations as ops

    _registry_change(lambda s: ops.upsert_agency(s, ops.AgencySpec(code, name, parent)))
    console.print(f"agency {code} saved")


@registry_app.command("add-system")
def add_system(
    system_id: Annotated[str, typer.Argument(help="AGENCY/CODE, e.g. 000.00.12.H10/MOTCUA.")],
    name: str,
    client: Annotated[bool, typer.Option("--client/--no-client", help="May call services.")] = True,
    provider: Annotated[bool, typer.Option("--provider/--no-provider", help="Offers services.")] = False,
    client_cert_sha256: Annotated[list[str] | None, typer.Option(
        "--client-cert-sha256", help="Bind to this client certificate (SHA-256 of the DER; repeatable). "
                                     "Omitted: an existing system keeps its binding and JWKS.")] = None,
    unbind: Annotated[bool, typer.Option("--unbind", help="Remove the certificate binding.")] = False,
) -> None:
    """Register (or update) a system under an agency."""
    from registry import operations as ops
    from registry.models import System

    agency, _, code = system_id.partition("/")

    def change(session: Session) -> None:
        # an update that does not mention them keeps the system's keys and binding (never a silent unbind)
        existing = session.get(System, system_id)
        jwks = existing.jwks if existing is not None else None
        certs = client_cert_sha256 or (existing.client_cert_sha256 if existing is not None else None)
        ops.upsert_system(session, ops.SystemSpec(agency, code, name, client, provider, jwks,
                                                  None if unbind else certs))

    _registry_change(change)
    console.print(f"system {system_id} saved")


@registry_app.command("add-service")
def add_service(
    service_id: Annotated[str, typer.Argument(help="AGENCY/SYSTEM/SERVICE.")],
    name: str,
    base_url: Annotated[str, typer.Argument(help="Provider base URL (REST) or SOAP endpoint.")],
    kind: Annotated[str, typer.Option(help="rest or soap.")] = "rest",
    wsdl: Annotated[str | None, typer.Option(help="WSDL path under schemas/ (SOAP).")] = None,
    timeout: Annotated[float, typer.Option(help="Seconds (at most 600).", min=0, max=600, callback=finite)] = 10.0,
    retries: Annotated[int, typer.Option(help="Retries for idempotent methods.", min=0, max=10)] = 2,
    idempotent: Annotated[str, typer.Option(help="Comma-separated idempotent methods.")] = "GET,HEAD,OPTIONS",
    signature: Annotated[str, typer.Option(help="off, report or require.")] = "off",
) -> None:
    """Register (or update) a service a provider system offers."""
    from lgsp.settings import Settings
    from registry import operations as ops

    system, _, code = service_id.rpartition("/")
    spec = ops.ServiceSpec(system=system, code=code, name=name, base_url=base_url, kind=kind, wsdl_path=wsdl,
                           timeout_seconds=timeout, retry_attempts=retries,
                           idempotent_methods=[m for m in idempotent.split(",") if m], signature_policy=signature)
    _registry_change(lambda s: ops.upsert_service(s, spec, Path(Settings.load().schemas_dir)))
    console.print(f"service {service_id} saved")


@registry_app.command("grant")
def grant(
    client: Annotated[str, typer.Argument(help="Client system id AGENCY/SYSTEM.")],
    service: Annotated[str, typer.Argument(help="Service id AGENCY/SYSTEM/SERVICE.")],
    methods: Annotated[str, typer.Option(help="Comma-separated methods or *.")] = "*",
    path: Annotated[str, typer.Option(help="Path pattern (glob) or *.")] = "*",
) -> None:
    """Allow a client system to call a service."""
    from registry import operations as ops

    _registry_change(lambda s: ops.add_grant(s, ops.GrantSpec(client, service, methods.split(","), path)))
    console.print(f"granted {client} -> {service} [{methods}] {path}")


@registry_app.command("revoke")
def revoke(
    client: Annotated[str, typer.Argument(help="Client system id AGENCY/SYSTEM.")],
    service: Annotated[str, typer.Argument(help="Service id AGENCY/SYSTEM/SERVICE.")],
) -> None:
    """Remove every grant of a client system on a service."""
    from sqlalchemy import select

    from registry import operations as ops
    from registry.models import Grant

    def remove(session: Session) -> None:
        grants = session.scalars(select(Grant).where(Grant.client_system_id == client,
                                                     Grant.service_id == service)).all()
        if not grants:
            raise ops.RegistryNotFound(f"{client} has no grant on {service}")
        for g in grants:
            ops.delete_grant(session, g.id)

    _registry_change(remove)
    console.print(f"revoked {client} -> {service}")


@registry_app.command("remove")
def remove(
    kind: Annotated[str, typer.Argument(help="agency, system or service.")],
    identifier: Annotated[str, typer.Argument(help="Its code or id.")],
) -> None:
    """Remove an agency, system or service (and what depends on it)."""
    from registry import operations as ops

    actions = {"agency": ops.delete_agency, "system": ops.delete_system, "service": ops.delete_service}
    if kind not in actions:
        fail("kind must be agency, system or service", 2)
    _registry_change(lambda s: actions[kind](s, identifier))
    console.print(f"{kind} {identifier} removed")
