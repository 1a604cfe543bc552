"""``lgsp witness serve``: an independent witness for lgsp's audit log (C2SP tlog-witness ``add-checkpoint``).

Why a witness: the operator of the bus holds the log key and the database, so on its own a signed
head only proves what the operator chose to sign. A witness run by another body (the provincial
inspectorate, a neighbouring province, a national service) cosigns a checkpoint only if it is
consistent with the last one it cosigned for that log — so a rollback, a fork (two different trees
of one size, e.g. one shown to the auditor and one kept) or a rewrite can no longer be signed
without some witness refusing. Verifiers then demand a quorum of cosignatures.

Deliberately small and independent of the gateway: its own Ed25519 key file, its own SQLite file,
no lgsp database or settings; it only needs the log's verifier key(s). The protocol is C2SP
tlog-witness: ``POST /add-checkpoint`` with ``old <size>``, the consistency proof lines, a blank
line and the signed checkpoint; answers 200 + cosignature line, 400, 403, 404, 409 (+ the size it
holds, ``text/x.tlog.size``) or 422, exactly as the spec says. Extensions (documented in
docs/auditors.md): a checkpoint carrying ``lgsp-next-key <vkey>`` signed by a trusted key *and* by
that new key makes the witness trust the new key too (rotation; the old one until retired);
``lgsp-retire-key <vkey>`` signed by another trusted key makes it stop trusting that one.
``GET /lgsp/refusals`` lists what it refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from lgsp.audit.merkle import ProofError, verify_consistency
from lgsp.audit.note import (
    ALG_COSIGNATURE,
    NEXT_KEY_EXTENSION,
    RETIRE_KEY_EXTENSION,
    NoteError,
    NoteSigner,
    NoteVerifier,
    open_note,
    parse_checkpoint,
)

__all__ = ["Witness", "WitnessStore", "load_or_create_witness_key", "witness_app"]

#: Refusals anyone can cause (malformed, unknown origin, no valid signature by a trusted log key) are bounded:
#: only the newest this many are kept.
KEPT_UNSIGNED_REFUSALS = 1000
#: A refusal's reason may quote the request; it is cut so a large request cannot bloat the table.
MAX_REASON_CHARS = 500
#: A request is a checkpoint, its signatures and a consistency proof of at most ~64 hashes: a few KiB.
#: Anything past this bound is refused before it is read in full, so nobody can fill the witness's memory.
MAX_REQUEST_BYTES = 64 * 1024
_SCHEMA = """
CREATE TABLE IF NOT EXISTS logs (origin TEXT PRIMARY KEY, size INTEGER NOT NULL, root BLOB NOT NULL,
                                 checkpoint TEXT NOT NULL, updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS log_keys (origin TEXT NOT NULL, vkey TEXT NOT NULL, retired_at REAL,
                                     PRIMARY KEY (origin, vkey));
CREATE TABLE IF NOT EXISTS refusals (id INTEGER PRIMARY KEY, at REAL NOT NULL, origin TEXT, status INTEGER,
                                     reason TEXT NOT NULL, signed INTEGER NOT NULL DEFAULT 1);
"""

_COLUMNS = {"logs": {"origin", "size", "root", "checkpoint", "updated_at"},
            "log_keys": {"origin", "vkey", "retired_at"},
            "refusals": {"id", "at", "origin", "status", "reason", "signed"}}


def load_or_create_witness_key(path: str | Path) -> Ed25519PrivateKey:
    """The witness's own Ed25519 key, kept like the log's key (issue 17.2): the file holds only a reference into
    the key store (AES-GCM-wrapped under the KEK by default, or a PKCS#11 token), created on first use; a plain
    PEM written by an older version is wrapped in place."""
    from lgsp.keys.audit import load_or_create_log_signer
    from lgsp.settings import Settings

    signer = load_or_create_log_signer(Settings.load(), Path(path))
    return signer.private_key  # a StoredKey: signs inside the store, the private bytes never leave it


class WitnessStore:
    """The witness's memory: per log origin, the latest cosigned checkpoint and the trusted log keys."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._lock = threading.Lock()
        with self._connect() as conn:
            conn.executescript(_SCHEMA)
            columns = {row[1] for row in conn.execute("PRAGMA table_info(refusals)")}
            if "signed" not in columns:  # a witness database from before the bound: its rows count as evidence
                conn.execute("ALTER TABLE refusals ADD COLUMN signed INTEGER NOT NULL DEFAULT 1")
            for table, needed in _COLUMNS.items():  # another program's file: refuse at start, not with a 500 later
                have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                if not needed <= have:
                    raise ValueError(f"{self.path} is not a witness database: table {table} lacks "
                                     f"{', '.join(sorted(needed - have))}")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return conn

    def add_log_key(self, vkey: str) -> None:
        verifier = NoteVerifier.from_vkey(vkey)
        with self._connect() as conn:
            conn.execute("INSERT OR IGNORE INTO log_keys (origin, vkey) VALUES (?, ?)", (verifier.name, vkey))

    def log_keys(self, origin: str) -> list[NoteVerifier]:
        with self._connect() as conn:
            rows = conn.execute("SELECT vkey FROM log_keys WHERE origin = ? AND retired_at IS NULL",
                                (origin,)).fetchall()
        return [NoteVerifier.from_vkey(r[0]) for r in rows]

    def latest(self, origin: str) -> tuple[int, bytes] | None:
        with self._connect() as conn:
            row = conn.execute("SELECT size, root FROM logs WHERE origin = ?", (origin,)).fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def refusals(self) -> list[dict[str, Any]]:
        with self._connect() as conn:
            rows = conn.execute("SELECT at, origin, status, reason FROM refusals ORDER BY id").fetchall()
        return [{"at": r[0], "origin": r[1], "status": r[2], "reason": r[3]} for r in rows]

    def refuse(self, origin: str | None, status: int, reason: str, *, signed: bool = True) -> None:
        """Record a refusal. ``signed`` refusals concern a checkpoint signed by a trusted log key (rollback,
        fork, rewrite): evidence against the log's operator, never evicted. Anyone can cause the unsigned
        ones, so only the newest :data:`KEPT_UNSIGNED_REFUSALS` of those are kept."""
        with self._connect() as conn:
            conn.execute("INSERT INTO refusals (at, origin, status, reason, signed) VALUES (?, ?, ?, ?, ?)",
                         (time.time(), None if origin is None else origin[:MAX_REASON_CHARS], status,
                          reason[:MAX_REASON_CHARS], int(signed)))
            if not signed:
                conn.execute("DELETE FROM refusals WHERE signed = 0 AND id <= (SELECT id FROM refusals "
                             "WHERE signed = 0 ORDER BY id DESC LIMIT 1 OFFSET ?)", (KEPT_UNSIGNED_REFUSALS,))


@dataclass
class Answer:
    status: int
    body: str
    content_type: str = "text/plain; charset=utf-8"


class Witness:
    """The add-checkpoint rules of C2SP tlog-witness, over a :class:`WitnessStore`."""

    def __init__(self, name: str, key: Ed25519PrivateKey, store: WitnessStore) -> None:
        self.signer = NoteSigner(name, key, ALG_COSIGNATURE)
        self.store = store

    @property
    def vkey(self) -> str:
        return self.signer.verifier.vkey()

    def add_checkpoint(self, body: str) -> Answer:
        """Answer one request; a refusal is recorded (``GET /lgsp/refusals``) so it can be flagged."""
        origin: str | None = None
        try:
            head, _, note = body.partition("\n\n")
            lines = head.split("\n")
            if not lines[0].startswith("old ") or not lines[0][4:].isdigit():
                return self._refuse(None, 400, "the first line must be 'old <size>'", signed=False)
            old = int(lines[0][4:])
            proof = [base64.b64decode(line, validate=True) for line in lines[1:]]
            text, signatures = open_note(note)
            checkpoint = parse_checkpoint(text)
        except (NoteError, binascii.Error, ValueError) as exc:
            return self._refuse(origin, 400, f"malformed request: {exc}", signed=False)
        origin = checkpoint.origin
        with self.store._lock:  # one checkpoint per witness at a time: the compare-and-set below
            return self._add(origin, old, proof, text, signatures, checkpoint)

    def _add(self, origin: str, old: int, proof: list[bytes], text: str, signatures: Any, checkpoint: Any) -> Answer:
        keys = self.store.log_keys(origin)
        if not keys:
            return self._refuse(origin, 404, f"unknown log origin {origin!r}", signed=False)
        trusted = [k for k in keys if any(s.name == k.name and s.key_hash == k.key_hash for s in signatures)]
        if not trusted:
            return self._refuse(origin, 403, "no signature by a log key this witness trusts", signed=False)
        for key in trusted:
            sig = next(s for s in signatures if s.name == key.name and s.key_hash == key.key_hash)
            try:
                key.verify(text, sig)
            except NoteError as exc:
                return self._refuse(origin, 403, str(exc), signed=False)
        if old > checkpoint.tree_size:
            return self._refuse(origin, 400, f"old size {old} is larger than the checkpoint ({checkpoint.tree_size})")
        latest = self.store.latest(origin)
        size, root = latest if latest is not None else (0, b"")
        if old != size:
            self.store.refuse(origin, 409, f"old size {old}, but the latest cosigned size is {size}"
                              + (" (rollback)" if checkpoint.tree_size < size else ""))
            return Answer(409, f"{size}\n", "text/x.tlog.size")
        if latest is not None:
            try:
                verify_consistency(size, checkpoint.tree_size, root, checkpoint.root_hash, proof)
            except ProofError as exc:
                status = 409 if size == checkpoint.tree_size else 422
                return self._refuse(origin, status, f"not consistent with the cosigned checkpoint of size {size} "
                                    f"(fork or rewrite): {exc}")
        elif proof:
            return self._refuse(origin, 422, "the proof must be empty when old is 0")
        rotation = self._key_changes(origin, checkpoint, text, signatures)
        if isinstance(rotation, Answer):
            return rotation
        when = int(time.time())
        line = self.signer.signature_line(text, when)
        with self.store._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO logs (origin, size, root, checkpoint, updated_at) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (origin) DO UPDATE SET size = excluded.size, root = excluded.root, "
                         "checkpoint = excluded.checkpoint, updated_at = excluded.updated_at",
                         (origin, checkpoint.tree_size, checkpoint.root_hash, text, time.time()))
            for add in rotation[0]:
                conn.execute("INSERT OR IGNORE INTO log_keys (origin, vkey) VALUES (?, ?)", (origin, add))
            for retire in rotation[1]:
                conn.execute("UPDATE log_keys SET retired_at = ? WHERE origin = ? AND vkey = ?",
                             (time.time(), origin, retire))
            conn.execute("COMMIT")
        return Answer(200, line)

    def _key_changes(self, origin: str, checkpoint: Any, text: str,
                     signatures: Any) -> tuple[list[str], list[str]] | Answer:
        """Rotation: the new key must co-sign its own announcement; retirement: another trusted key signs it."""
        added: list[str] = []
        retired: list[str] = []
        trusted = {k.vkey() for k in self.store.log_keys(origin)}
        for line in checkpoint.extensions:
            if line.startswith(NEXT_KEY_EXTENSION):
                new = NoteVerifier.from_vkey(line.split(" ", 1)[1])
                sig = next((s for s in signatures if s.name == new.name and s.key_hash == new.key_hash), None)
                if sig is None:
                    return self._refuse(origin, 403, "a key rotation must be signed by the new key too")
                try:
                    new.verify(text, sig)
                except NoteError as exc:
                    return self._refuse(origin, 403, f"rotation: {exc}")
                added.append(new.vkey())
            elif line.startswith(RETIRE_KEY_EXTENSION):
                old = line.split(" ", 1)[1]
                signers = {k.vkey() for k in self.store.log_keys(origin)
                           if any(s.name == k.name and s.key_hash == k.key_hash for s in signatures)}
                if old not in trusted or not signers - {old}:
                    return self._refuse(origin, 403, "a retirement must name a trusted key and be signed by another")
                retired.append(old)
        return added, retired

    def _refuse(self, origin: str | None, status: int, reason: str, *, signed: bool = True) -> Answer:
        self.store.refuse(origin, status, reason, signed=signed)
        return Answer(status, reason + "\n")


async def _bounded_body(request: Request) -> bytes | None:
    """The body, or None once it passes :data:`MAX_REQUEST_BYTES` (declared or as it streams in)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_REQUEST_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_REQUEST_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def witness_app(witness: Witness) -> Starlette:
    """The HTTP face of a witness: ``POST /add-checkpoint``, ``GET /lgsp/witness``, ``GET /lgsp/refusals``."""

    async def add_checkpoint(request: Request) -> Response:
        raw = await _bounded_body(request)
        if raw is None:
            return PlainTextResponse(f"the request is larger than {MAX_REQUEST_BYTES} bytes\n", 413)
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError:
            return PlainTextResponse("the body must be UTF-8\n", 400)
        answer = witness.add_checkpoint(body)
        return Response(answer.body, answer.status, media_type=answer.content_type)

    async def about(request: Request) -> Response:
        return JSONResponse({"name": witness.signer.name, "vkey": witness.vkey})

    async def refusals(request: Request) -> Response:
        return JSONResponse({"refusals": witness.store.refusals()})

    return Starlette(routes=[
        Route("/add-checkpoint", add_checkpoint, methods=["POST"]),
        Route("/lgsp/witness", about, methods=["GET"]),
        Route("/lgsp/refusals", refusals, methods=["GET"]),
    ])


def describe(witness: Witness) -> str:
    return json.dumps({"name": witness.signer.name, "vkey": witness.vkey})
