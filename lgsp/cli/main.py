"""The `lgsp` command: serve, worker, db, apply, registry, clients, keys, audit, demo."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from lgsp.cli.clients import clients_app
from lgsp.cli.common import console, engine_from_settings, fail
from lgsp.cli.keys import keys_app
from lgsp.cli.lazy import LazyGroup
from lgsp.cli.registry import apply_file, registry_app
from lgsp.settings import Settings

# Heavy libraries (SQLAlchemy, Alembic, rich, uvicorn, the signing stack) are imported inside the commands
# that use them: `lgsp --help` must answer in well under half a second (bench/startup.py).

# audit, deliveries, opendata and verify are loaded on first use (see lgsp.cli.lazy).
app = typer.Typer(cls=LazyGroup, help="lgsp: integration bus and open-data gateway.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
db_app = typer.Typer(help="Store administration.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(registry_app, name="registry")
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=0, max=65535)] = 8080,
    workers: Annotated[int, typer.Option(help="Worker processes (each a full gateway).", min=1, max=256)] = 1,
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
    from lgsp.serving import raise_open_file_limit, run_uvicorn, server_options

    shutdown.install()  # normally done already by lgsp.cli.entry, before any import
    raise_open_file_limit()  # inherited by the worker processes uvicorn spawns
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
    run_uvicorn(uvicorn.Config("lgsp.app:served_app", factory=True, host=host, port=port, workers=workers,
                               **server_options(tls=bool(tls)), **tls))  # type: ignore[arg-type]


@app.command()
def worker() -> None:
    """Run background work (durable deliveries, schedules) until interrupted."""
    from lgsp import logs
    from lgsp.serving import raise_open_file_limit
    from lgsp.worker import run_worker

    raise_open_file_limit()  # deliveries in parallel: one descriptor per provider connection
    settings = Settings.load()
    logs.configure(settings.log_level)  # JSON lines, like the gateway
    run_worker(settings)


app.command("apply")(apply_file)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply all pending migrations."""
    from lgsp.store.migrate import current_revision

    engine = engine_from_settings(migrate=True)
    console.print(f"store at revision [bold]{current_revision(engine)}[/]")


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
    port: Annotated[int, typer.Option(help="Gateway port.", min=0, max=65535)] = 8080,
    keep_serving: Annotated[bool, typer.Option(help="Keep serving after the tour until Ctrl-C.")] = True,
) -> None:
    """Start the gateway on SQLite with sample Cần Thơ department services and walk through calls."""
    from lgsp.demo.runner import run_demo

    run_demo(port=port, keep_serving=keep_serving)


def run() -> None:
    app()
