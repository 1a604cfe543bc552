"""The gateway's side of witnessing: C2SP checkpoints for its heads, sent to witnesses, cosignatures kept.

Why here and not in the witness: the log must prove each new head consistent with the last one a
witness cosigned (C2SP tlog-witness ``add-checkpoint``), and only the log has the tree to build
that proof. A witness that refuses (rollback, fork, bad proof) is logged loudly and its refusal
is visible to auditors as a missing cosignature: the head then lacks the quorum verifiers require.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import httpx
import structlog
from sqlalchemy import Engine, func, insert, select

from lgsp.audit.merkle import consistency_proof
from lgsp.audit.models import AuditCosignature
from lgsp.audit.note import ALG_COSIGNATURE, Checkpoint, NoteError, NoteVerifier, open_note
from lgsp.audit.sth import LogSigner, SignedTreeHead
from lgsp.store.db import writer

if TYPE_CHECKING:
    from lgsp.audit.merkle import NodeReader
    from lgsp.settings import Settings


class HeadSource(Protocol):
    """What witnessing needs of the log's head service (:class:`lgsp.audit.heads.HeadService` is one).

    A protocol, not an import: the head service calls into this module after signing a head, so this
    module must not import it back.
    """

    @property
    def engine(self) -> Engine: ...

    @property
    def settings(self) -> Settings: ...

    @property
    def tree(self) -> NodeReader: ...

    @property
    def signer(self) -> LogSigner: ...

    def latest(self) -> SignedTreeHead | None: ...

__all__ = ["WitnessEndpoint", "checkpoint_of", "cosignature_lines", "parse_witnesses", "rewitness_latest",
           "send_checkpoint", "signed_checkpoint", "witness_head"]

log = structlog.get_logger("lgsp.audit.witness")


@dataclass(frozen=True)
class WitnessEndpoint:
    url: str
    verifier: NoteVerifier


def parse_witnesses(setting: str) -> list[WitnessEndpoint]:
    """``URL VKEY, URL VKEY`` (``Settings.audit_witnesses``) as endpoints; a bad entry is a config error."""
    out = []
    for item in filter(None, (part.strip() for part in setting.split(","))):
        try:
            url, vkey = item.split()
        except ValueError:
            raise ValueError(f"audit_witnesses entry {item!r} is not 'URL VKEY'") from None
        verifier = NoteVerifier.from_vkey(vkey)
        if verifier.alg != ALG_COSIGNATURE:
            raise ValueError(f"witness key {verifier.name} is not a cosignature/v1 (type 0x04) key")
        out.append(WitnessEndpoint(url.rstrip("/"), verifier))
    return out


def checkpoint_of(head: SignedTreeHead, origin: str, extensions: tuple[str, ...] = ()) -> Checkpoint:
    return Checkpoint(origin, head.tree_size, head.root_hash, extensions)


def signed_checkpoint(signer: LogSigner, origin: str, head: SignedTreeHead,
                      extensions: tuple[str, ...] = ()) -> str:
    """The head as a C2SP signed note, signed by the log key (Ed25519 is deterministic: always the same bytes)."""
    text = checkpoint_of(head, origin, extensions).text()
    return text + "\n" + signer.note_signer(origin).signature_line(text)


def cosignature_lines(engine: Engine, tree_size: int) -> list[str]:
    with engine.connect() as conn:
        rows = conn.execute(select(AuditCosignature.line).where(AuditCosignature.tree_size == tree_size)
                            .order_by(AuditCosignature.witness)).all()
    return [row.line for row in rows]


def _last_cosigned(engine: Engine, witness: str) -> int:
    with engine.connect() as conn:
        size = conn.execute(select(func.max(AuditCosignature.tree_size))
                            .where(AuditCosignature.witness == witness)).scalar()
    return int(size or 0)


def add_checkpoint_body(old_size: int, proof: list[bytes], note: str) -> str:
    """The tlog-witness request: ``old N``, one base64 proof hash per line, a blank line, the checkpoint."""
    return f"old {old_size}\n" + "".join(base64.b64encode(h).decode() + "\n" for h in proof) + "\n" + note


def witness_head(service: HeadSource, head: SignedTreeHead, note: str | None = None,
                 only: set[str] | None = None) -> dict[str, str]:
    """Send ``head`` to every configured witness; store the cosignatures. Returns witness -> outcome.

    Never raises: a witness being down must not stop heads being signed. On ``409`` (the witness
    has another size than we assumed) the request is retried once from the size it names.
    """
    settings = service.settings
    origin = settings.audit_checkpoint_origin
    note = note or signed_checkpoint(service.signer, origin, head)
    text = checkpoint_of(head, origin).text()
    outcomes: dict[str, str] = {}
    try:
        witnesses = parse_witnesses(settings.audit_witnesses)
    except (ValueError, NoteError) as exc:
        log.error("LGSP_AUDIT_WITNESSES is invalid; heads are not witnessed", error=str(exc))
        return {"configuration": f"error: {exc}"}
    for witness in witnesses:
        if only is not None and witness.verifier.name not in only:
            continue
        name = witness.verifier.name
        try:
            outcomes[name] = _ask(service, witness, head, note, text)
        except (httpx.HTTPError, NoteError, ValueError, KeyError) as exc:
            outcomes[name] = f"error: {exc}"
        if outcomes[name] != "cosigned":
            log.warning("witness did not cosign the head", witness=name, tree_size=head.tree_size,
                        outcome=outcomes[name])
    return outcomes


def send_checkpoint(service: HeadSource, head: SignedTreeHead, note: str,
                    text: str) -> tuple[list[str], dict[str, str]]:
    """Send a special checkpoint (a key announcement) to every witness; return its cosignature lines.

    Unlike :func:`witness_head` nothing goes into ``audit_cosignatures`` (those cosign the plain
    checkpoint of a head); the caller keeps the lines with the announcement.
    """
    lines: list[str] = []
    outcomes: dict[str, str] = {}
    for witness in parse_witnesses(service.settings.audit_witnesses):
        collected: list[str] = []
        try:
            outcomes[witness.verifier.name] = _ask(service, witness, head, note, text, collected)
        except (httpx.HTTPError, NoteError, ValueError, KeyError) as exc:
            outcomes[witness.verifier.name] = f"error: {exc}"
        lines += collected
    return lines, outcomes


def _ask(service: HeadSource, witness: WitnessEndpoint, head: SignedTreeHead, note: str, text: str,
         collect: list[str] | None = None) -> str:
    old = _last_cosigned(service.engine, witness.verifier.name)
    timeout = service.settings.audit_witness_timeout_seconds
    with httpx.Client(timeout=timeout) as client:
        for _attempt in range(2):
            if old > head.tree_size:
                return f"refused: the witness has cosigned size {old}, larger than this head ({head.tree_size})"
            proof = consistency_proof(service.tree, old, head.tree_size) if old else []
            response = client.post(f"{witness.url}/add-checkpoint", content=add_checkpoint_body(old, proof, note),
                                   headers={"content-type": "text/plain; charset=utf-8"})
            if response.status_code == 409 and response.headers.get("content-type", "").startswith(
                    "text/x.tlog.size"):
                old = int(response.text.strip())
                continue
            if response.status_code != 200:
                return f"refused: HTTP {response.status_code} {response.text.strip()[:200]}"
            return _store(service.engine, witness, head, text, response.text, collect)
    return "refused: the witness keeps naming another size"


def _store(engine: Engine, witness: WitnessEndpoint, head: SignedTreeHead, text: str, body: str,
           collect: list[str] | None) -> str:
    for line in body.splitlines():
        _, (sig,) = open_note("x\n\n" + line + "\n")
        if sig.name != witness.verifier.name or sig.key_hash != witness.verifier.key_hash:
            continue
        when = witness.verifier.verify(text, sig)
        if collect is not None:
            collect.append(line)
            return "cosigned"
        with writer(engine).begin() as conn:
            exists = conn.execute(select(AuditCosignature.line).where(
                AuditCosignature.tree_size == head.tree_size, AuditCosignature.witness == sig.name)).first()
            if exists is None:
                conn.execute(insert(AuditCosignature).values(tree_size=head.tree_size, witness=sig.name,
                                                             line=line, cosigned_at=when or int(time.time())))
        return "cosigned"
    return "refused: no cosignature by the configured key in the answer"


def rewitness_latest(service: HeadSource) -> dict[str, str]:
    """Send the latest head again to every witness that has not cosigned it (it was down, or slow).

    Called periodically by the head signer, so a witness outage heals at the next period instead of
    leaving the newest head short of the auditors' quorum until the next head.
    """
    head = service.latest()
    if head is None or not service.settings.audit_witnesses:
        return {}
    try:
        names = {w.verifier.name for w in parse_witnesses(service.settings.audit_witnesses)}
    except (ValueError, NoteError):
        return {}
    with service.engine.connect() as conn:
        done = {row.witness for row in conn.execute(
            select(AuditCosignature.witness).where(AuditCosignature.tree_size == head.tree_size))}
    missing = names - done
    return witness_head(service, head, only=missing) if missing else {}


def checkpoint_document(service: HeadSource, head: SignedTreeHead) -> dict[str, Any]:
    """``GET /audit/checkpoint`` as JSON: the signed note (with cosignatures), the head, the cosignatures."""
    note = signed_checkpoint(service.signer, service.settings.audit_checkpoint_origin, head)
    lines = cosignature_lines(service.engine, head.tree_size)
    return {"checkpoint": note + "".join(line + "\n" for line in lines), "head": head.to_json(),
            "cosignatures": lines, "log_key": service.signer.public.note_verifier(
                service.settings.audit_checkpoint_origin).vkey()}
