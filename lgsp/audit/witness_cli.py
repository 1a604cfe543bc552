"""``lgsp witness``: run an independent witness for an lgsp audit log (see :mod:`lgsp.audit.witness`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lgsp.cli.common import console, fail

app = typer.Typer(help="An independent witness: cosigns the log's checkpoints only if consistent.",
                  no_args_is_help=True)

NameOpt = Annotated[str, typer.Option("--name", help="The witness's key name, e.g. thanhtra.cantho.gov.vn/witness.")]
KeyOpt = Annotated[Path, typer.Option("--key", help="Its Ed25519 key (PEM); created 0600 if absent.")]


def _unusable() -> tuple[type[Exception], ...]:
    """What a bad ``--name``, ``--log``, key file or ``--db`` raises: one ``error:`` line and exit 2, no traceback.

    ``sqlite3.Error``: ``--db`` is not an SQLite file (or not a witness's); ``KeyStoreError``: the key file
    names no key, or one the key store cannot open; ``ValueError`` covers ``NoteError`` and undecodable text.
    """
    import sqlite3

    from lgsp.keys.base import KeyStoreError

    return ValueError, OSError, sqlite3.Error, KeyStoreError


def _witness(name: str, key: Path, db: Path, logs: list[str]) -> object:
    from lgsp.audit.witness import Witness, WitnessStore, load_or_create_witness_key

    try:
        store = WitnessStore(db)
        for vkey in logs:
            store.add_log_key(vkey)
        return Witness(name, load_or_create_witness_key(key), store)
    except _unusable() as exc:
        import sqlite3

        fail(f"--db {db}: {exc}" if isinstance(exc, sqlite3.Error) else str(exc), 2)


@app.command("key")
def key(name: NameOpt, key: KeyOpt) -> None:
    """Print the witness's C2SP verifier key (give it to the log operator and to auditors)."""
    from lgsp.audit.note import ALG_COSIGNATURE, NoteSigner
    from lgsp.audit.witness import load_or_create_witness_key

    try:
        print(NoteSigner(name, load_or_create_witness_key(key), ALG_COSIGNATURE).verifier.vkey())
    except _unusable() as exc:
        fail(str(exc), 2)


@app.command("serve")
def serve(
    name: NameOpt,
    key: KeyOpt,
    db: Annotated[Path, typer.Option("--db", help="The witness's own SQLite file.")],
    log: Annotated[list[str] | None, typer.Option(
        "--log", help="A log's verifier key (GET /audit/checkpoint `log_key`); repeatable.")] = None,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535)] = 8780,
) -> None:
    """Serve C2SP tlog-witness POST /add-checkpoint."""
    import uvicorn

    from lgsp.audit.witness import Witness, witness_app
    from lgsp.serving import run_uvicorn, server_options

    witness = _witness(name, key, db, log or [])
    assert isinstance(witness, Witness)
    console.print(f"witness {witness.vkey} on http://{host}:{port}")
    # a witness faces the log's operator, who is exactly whom it does not trust: the gateway's request deadlines
    run_uvicorn(uvicorn.Config(witness_app(witness), host=host, port=port, **server_options()))
