"""The `lgsp` command: serve, worker, db, apply, registry, clients, keys, audit, demo."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from lgsp.cli.common import console, engine_from_settings, fail
from lgsp.cli.lazy import LazyGroup
from lgsp.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# Heavy libraries (SQLAlchemy, Alembic, rich, uvicorn, the signing stack) are imported inside the commands
# that use them: `lgsp --help` must answer in well under half a second (bench/startup.py).

# audit, deliveries, opendata and verify are loaded on first use (see lgsp.cli.lazy).
app = typer.Typer(cls=LazyGroup, help="lgsp: integration bus and open-data gateway.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Store administration.", no_args_is_help=True)
registry_app = typer.Typer(help="The service registry.", no_args_is_help=True)
clients_app = typer.Typer(help="OAuth2 client credentials.", no_args_is_help=True)
keys_app = typer.Typer(help="Private keys (token signing, audit log): where they live, rotation.",
                       no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (each a full gateway).")] = 1,
    ssl_certfile: Annotated[Path | None, typer.Option(envvar="LGSP_TLS_CERTFILE", help=(
        "Terminate TLS here: the server certificate (PEM); without it lgsp speaks plain HTTP."))] = None,
    ssl_keyfile: Annotated[Path | None, typer.Option(envvar="LGSP_TLS_KEYFILE", help="Its private key (PEM).")] = None,
    ssl_ca_certs: Annotated[Path | None, typer.Option(envvar="LGSP_TLS_CLIENT_CA", help=(
        "CA(s) client certificates must chain to (mTLS, optional per connection: systems bound to a "
        "certificate in the registry must present theirs)."))] = None,
) -> None:
    """Run the gateway (migrations are applied first)."""
    import ssl

    import uvicorn

    from lgsp import shutdown
    from lgsp.gateway.tls_protocol import TLSHttpToolsProtocol
    from lgsp.serving import run_uvicorn

    shutdown.install()  # normally done already by lgsp.cli.entry, before any import
    engine_from_settings(migrate=True).dispose()
    if shutdown.requested():  # SIGTERM during the migrations: they committed or rolled back; stop cleanly
        return
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="lgsp-metrics-")
    # lgsp.app:served_app records the TCP peer, then does uvicorn's X-Forwarded-For handling itself.
    tls: dict[str, object] = {}
    if ssl_certfile is not None:
        tls = {"ssl_certfile": str(ssl_certfile), "ssl_keyfile": str(ssl_keyfile) if ssl_keyfile else None}
        if ssl_ca_certs is not None:
            tls |= {"ssl_ca_certs": str(ssl_ca_certs), "ssl_cert_reqs": ssl.CERT_OPTIONAL}
    run_uvicorn(uvicorn.Config("lgsp.app:served_app", factory=True, host=host, port=port,
                               workers=workers, loop="uvloop", http=TLSHttpToolsProtocol, access_log=False,
                               log_level="warning", proxy_headers=False, server_header=True, date_header=True,
                               **tls))  # type: ignore[arg-type]


@app.command()
def worker() -> None:
    """Run background work (durable deliveries, schedules) until interrupted."""
    from lgsp import logs
    from lgsp.worker import run_worker

    settings = Settings.load()
    logs.configure(settings.log_level)  # JSON lines, like the gateway
    run_worker(settings)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    from lgsp.store.migrate import current_revision

    engine = engine_from_settings(migrate=True)
    console.print(f"store at revision [bold]{current_revision(engine)}[/]")


@app.command("apply")
def apply_file(
    file: Annotated[Path, typer.Argument(help="Registry YAML file.", exists=True, dir_okay=False)],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the diff, change nothing.")] = False,
    prune: Annotated[bool, typer.Option("--prune", help="Also remove what the file does not list.")] = False,
) -> None:
    """Make the registry match FILE, showing what changes (idempotent)."""
    from registry.declarative import RegistryFileError, apply, parse_registry_file
    from registry.operations import RegistryError

    try:
        desired = parse_registry_file(file.read_text(encoding="utf-8"))
        changes = apply(engine_from_settings(), desired, dry_run=dry_run, prune=prune)
    except (RegistryFileError, RegistryError) as exc:
        where = getattr(exc, "field", None) or getattr(exc, "where", "")
        fail(f"{file}: {where}: {exc}" if where else f"{file}: {exc}", 2)
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
    timeout: Annotated[float, typer.Option(help="Seconds.")] = 10.0,
    retries: Annotated[int, typer.Option(help="Retries for idempotent methods.")] = 2,
    idempotent: Annotated[str, typer.Option(help="Comma-separated idempotent methods.")] = "GET,HEAD,OPTIONS",
    signature: Annotated[str, typer.Option(help="off, report or require.")] = "off",
) -> None:
    """Register (or update) a service a provider system offers."""
    from registry import operations as ops

    system, _, code = service_id.rpartition("/")
    spec = ops.ServiceSpec(system=system, code=code, name=name, base_url=base_url, kind=kind, wsdl_path=wsdl,
                           timeout_seconds=timeout, retry_attempts=retries,
                           idempotent_methods=[m for m in idempotent.split(",") if m], signature_policy=signature)
    _registry_change(lambda s: ops.upsert_service(s, spec))
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


@app.command("adapters")
def adapters_list() -> None:
    """List installed adapters (entry-point group lgsp.adapters)."""
    from rich.table import Table

    from lgsp.adapters import discover

    table = Table("name", "what", "docs")
    for info in discover().values():
        table.add_row(info.name, info.title, info.docs)
    console.print(table)


@app.command("simulate", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def simulate(ctx: typer.Context,
             name: Annotated[str, typer.Argument(help="Adapter name (see lgsp adapters).")]) -> None:
    """Run an adapter's simulator as a real HTTP server; options after NAME go to the simulator."""
    from lgsp.adapters import UnknownAdapter, get

    try:
        info = get(name)
    except UnknownAdapter as exc:
        fail(str(exc), 2)
    if info.simulator_main is None:
        fail(f"adapter {name!r} has no simulator", 2)
    info.simulator_main(list(ctx.args))


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8080,
    keep_serving: Annotated[bool, typer.Option(help="Keep serving after the tour until Ctrl-C.")] = True,
) -> None:
    """Start the gateway on SQLite with sample Cần Thơ department services and walk through calls."""
    from lgsp.demo.runner import run_demo

    run_demo(port=port, keep_serving=keep_serving)


def run() -> None:
    app()
