"""``lgsp witness``: a bad name, log key, key file or SQLite state file ends in one ``error:`` line (exit 2).

Before, a ``--db`` that was not a witness's SQLite file, or a key file that named no key, ended in a
traceback, and a database with foreign tables of the same names started a witness that failed its
first request. Now every input gives a working witness or one line and exit status 2.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from lgsp.audit import witness_cli
from lgsp.audit.note import checkpoint_text
from lgsp.audit.sth import LogSigner
from lgsp.audit.witness import Witness
from lgsp.audit.witness_cli import _witness

ORIGIN = "lgsp.test/audit"
FUZZ = settings(max_examples=200, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str, bytes]:
    """The witness's directory and key file, a log key it trusts, a checkpoint note by that key, a used database."""
    tmp = tmp_path_factory.mktemp("witness")
    log = LogSigner.generate()
    text = checkpoint_text(ORIGIN, 3, bytes(32))
    note = text + "\n" + log.note_signer(ORIGIN).signature_line(text)
    vkey = log.public.note_verifier(ORIGIN).vkey()
    assert _outcome("w.example/witness", tmp / "witness.key", tmp / "template.db", [vkey], note) == 0
    return tmp, vkey, note, (tmp / "template.db").read_bytes()


def _outcome(name: str, key: Path, db: Path, logs: list[str], log_note: str) -> int:
    """``lgsp witness serve`` up to the server start: 0 = a witness that answers requests, else the exit code."""
    try:
        witness = _witness(name, key, db, logs)
    except SystemExit as exc:
        assert isinstance(exc.code, int)
        return exc.code
    assert isinstance(witness, Witness)
    answer = witness.add_checkpoint(f"old 0\n\n{log_note}")  # its tables must work, not just open
    assert answer.status in (200, 400, 403, 404, 409, 422), answer
    return 0


_DB_DAMAGE = st.one_of(
    st.just(b""), st.binary(max_size=64),
    st.tuples(st.integers(0, 8191), st.binary(min_size=1, max_size=8)).map(lambda cut: ("cut", *cut)),
    st.tuples(st.integers(0, 8191), st.binary(min_size=1, max_size=8)).map(lambda cut: ("splice", *cut)),
    st.sampled_from(["CREATE TABLE logs (x)", "CREATE TABLE refusals (id INTEGER PRIMARY KEY)",
                     "CREATE VIEW log_keys AS SELECT 1 AS origin"]),
)


@FUZZ
@given(name=st.one_of(st.just("w.example/witness"), st.text(max_size=12)),
       logs=st.lists(st.one_of(st.text(max_size=20), st.sampled_from(["x+y+z", "a+00000000+AQ=="]),
                               st.just("cut")), max_size=2),
       damage=_DB_DAMAGE)
def test_witness_cli_inputs_end_in_a_witness_or_one_error(inputs: tuple[Path, str, str, bytes], name: str,
                                                          logs: list[str], damage: Any) -> None:
    tmp, vkey, note, template = inputs
    logs = [vkey[: len(vkey) // 2] if v == "cut" else v for v in logs]
    db = tmp / "w.db"
    for leftover in (db, db.with_name("w.db-wal"), db.with_name("w.db-shm")):
        leftover.unlink(missing_ok=True)
    if isinstance(damage, bytes):
        db.write_bytes(damage)
    elif isinstance(damage, str):
        with sqlite3.connect(db) as conn:
            conn.execute(damage)
        conn.close()
    else:
        how, at, data = damage
        at %= len(template)
        db.write_bytes(template[:at] + data if how == "cut" else template[:at] + data + template[at + len(data):])
    assert _outcome(name, tmp / "witness.key", db, [vkey, *logs], note) in (0, 2)


@pytest.mark.parametrize("content", [b"not a key\n", b"\xff\xfe\x00", b"enc:v1:AAAA\n", b"pkcs11:token=none\n"])
def test_a_witness_key_file_that_names_no_key_is_one_error(inputs: tuple[Path, str, str, bytes],
                                                          content: bytes) -> None:
    tmp, vkey, _note, _template = inputs
    key = tmp / "bad-witness.key"
    key.write_bytes(content)
    assert _outcome("w.example/witness", key, tmp / "w2.db", [vkey], "x") == 2
    result = CliRunner().invoke(witness_cli.app, ["key", "--name", "w.example/witness", "--key", str(key)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), (result.exception, result.output)
