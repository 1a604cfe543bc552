"""What the auditor brings to a verification: a trust file (keys, witnesses, quorum) and a state file.

Why outside the store and the bundle: whoever can edit the database or the file can also add a key
to it, delete cosignatures, or hand over an old copy. Only inputs the auditor holds break that loop:

* the **trust file** names the log keys and witness keys the auditor accepts (obtained through a
  channel they trust) and how many witness cosignatures (``quorum``) the newest head needs;
* the **state file** remembers the largest checkpoint this auditor has verified; a later view that is
  smaller (rollback, deleted heads, an old bundle presented as current) or has another root at that
  size (fork), or cannot be proven to extend it, fails. It is rewritten only after a passing check.

Trust file (JSON)::

    {"format": "lgsp-audit-trust", "version": 1, "origin": "<checkpoint origin>",
     "log_keys": [<GET /audit/keys items>], "witnesses": ["<C2SP vkey>", ...], "quorum": 1,
     "max_cosignature_age_seconds": 86400}

``max_cosignature_age_seconds`` (optional) is the freshness an auditor demands: a cosignature made longer
ago than that (or dated more than five minutes ahead of this clock) does not count towards the quorum, so
an operator cannot present an old, once-cosigned view as the current one for ever.

State file (JSON, written by the verifiers)::

    {"format": "lgsp-audit-state", "version": 1, "origin": ..., "head": <signed head JSON>, "verified_at": ...}
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lgsp.audit.bundle import Report
from lgsp.audit.canonical import format_time
from lgsp.audit.note import (
    ALG_COSIGNATURE,
    KEY_CHANGE_AT_EXTENSION,
    NEXT_KEY_EXTENSION,
    RETIRE_KEY_EXTENSION,
    NoteError,
    NoteVerifier,
    checkpoint_text,
    open_note,
    parse_checkpoint,
)
from lgsp.audit.sth import HeadVerificationError, LogKeyRing, LogPublicKey, SignedTreeHead

__all__ = ["TRUST_FORMAT", "AuditState", "TrustFile", "check_quorum", "check_state", "check_untrusted_keys",
           "finish_state", "follow_key_events"]

TRUST_FORMAT = "lgsp-audit-trust"
STATE_FORMAT = "lgsp-audit-state"


@dataclass
class TrustFile:
    origin: str
    ring: LogKeyRing
    witnesses: list[NoteVerifier] = field(default_factory=list)
    quorum: int = 0
    max_cosignature_age_seconds: int | None = None

    @classmethod
    def from_json(cls, data: Any) -> TrustFile:
        """Parse and check a trust file; errors are ValueError (the verifiers exit 2: unreadable input)."""
        if not isinstance(data, Mapping) or data.get("format") != TRUST_FORMAT or data.get("version") != 1:
            raise ValueError(f"not an {TRUST_FORMAT} v1 file")
        origin = data.get("origin")
        if not isinstance(origin, str) or not origin:
            raise ValueError("the trust file needs the log's checkpoint 'origin'")
        keys = data.get("log_keys")
        if not isinstance(keys, list) or not keys:
            raise ValueError("the trust file needs at least one entry in 'log_keys'")
        try:
            ring = LogKeyRing(LogPublicKey.from_json(k) for k in keys)
            witnesses = [NoteVerifier.from_vkey(v) for v in data.get("witnesses") or []]
        except (HeadVerificationError, NoteError, TypeError, AttributeError) as exc:
            raise ValueError(f"trust file: {exc}") from exc
        if any(w.alg != ALG_COSIGNATURE for w in witnesses):
            raise ValueError("trust file: witness keys must be cosignature/v1 (type 0x04) verifier keys")
        quorum = data.get("quorum", len(witnesses))
        if not isinstance(quorum, int) or isinstance(quorum, bool) or not 0 <= quorum <= len(witnesses):
            raise ValueError(f"trust file: quorum must be an integer between 0 and {len(witnesses)}")
        max_age = data.get("max_cosignature_age_seconds")
        if max_age is not None and (not isinstance(max_age, int) or isinstance(max_age, bool) or max_age <= 0):
            raise ValueError("trust file: max_cosignature_age_seconds must be a positive integer")
        return cls(origin, ring, witnesses, quorum, max_age)

    @classmethod
    def load(cls, path: Path) -> TrustFile:
        return cls.from_json(json.loads(path.read_bytes()))

    def to_json(self) -> dict[str, Any]:
        return {"format": TRUST_FORMAT, "version": 1, "origin": self.origin,
                "log_keys": [k.to_json() for k in self.ring.keys],
                "witnesses": [w.vkey() for w in self.witnesses], "quorum": self.quorum,
                **({} if self.max_cosignature_age_seconds is None
                   else {"max_cosignature_age_seconds": self.max_cosignature_age_seconds})}


def check_untrusted_keys(report: Report, trust: TrustFile, shown: Iterable[LogPublicKey], where: str) -> None:
    """Keys the store/bundle lists but the auditor does not: reported, never used."""
    extra = [k.key_id for k in shown if k.key_id not in trust.ring]
    if extra:
        ids = ", ".join(i[:16] + "…" for i in extra)
        report.add("untrusted keys", None, f"{len(extra)} key(s) found only in the {where} and not in your trust "
                   f"file: {ids}; heads they sign are refused")
    else:
        report.add("trust", True, f"log keys from your trust file ({len(trust.ring)}); the {where} adds none")


#: How far ahead of the verifier's clock a cosignature may be dated (clock skew) when freshness is required.
COSIGNATURE_CLOCK_SKEW_SECONDS = 300


def check_quorum(report: Report, trust: TrustFile, head: SignedTreeHead | None, lines: Sequence[str],
                 now: float | None = None) -> None:
    """The newest head needs ``quorum`` valid cosignatures by distinct witnesses of the trust file (each fresh
    enough, when the trust file sets ``max_cosignature_age_seconds``)."""
    if head is None:
        report.add("witnesses", False, "no signed head to check witness cosignatures on")
        return
    if trust.quorum == 0:
        report.add("witnesses", None, "your trust file requires no witness cosignatures (quorum 0)")
        return
    text = checkpoint_text(trust.origin, head.tree_size, head.root_hash)
    good: set[str] = set()
    problems: list[str] = []
    for line in lines:
        try:
            _, (sig,) = open_note("x\n\n" + line.strip() + "\n")
        except (NoteError, ValueError) as exc:
            problems.append(f"unreadable cosignature line: {exc}")
            continue
        witness = next((w for w in trust.witnesses if w.name == sig.name and w.key_hash == sig.key_hash), None)
        if witness is None:
            problems.append(f"cosignature by {sig.name}, not a witness in your trust file (ignored)")
            continue
        try:
            when = witness.verify(text, sig)
        except NoteError as exc:
            problems.append(str(exc))
            continue
        stale = _staleness(trust, when, time.time() if now is None else now)
        if stale:
            problems.append(f"cosignature by {witness.name} {stale}")
            continue
        good.add(witness.name)
    name = f"witnesses {head.tree_size}"
    if len(good) >= trust.quorum:
        report.add(name, True, f"{len(good)} of your witnesses cosigned this checkpoint ({', '.join(sorted(good))}); "
                   f"quorum {trust.quorum}")
    else:
        detail = (f"only {len(good)} valid cosignature(s) from your witnesses, quorum is {trust.quorum}: the "
                  "witnesses refused this head (rollback, fork) or never saw it")
        report.add(name, False, detail + (f"; {'; '.join(problems[:3])}" if problems else ""))


def _staleness(trust: TrustFile, when: int | None, now: float) -> str | None:
    """Why a valid cosignature made at ``when`` does not count under the trust file's freshness, or None."""
    limit = trust.max_cosignature_age_seconds
    if limit is None or when is None:
        return None
    if when > now + COSIGNATURE_CLOCK_SKEW_SECONDS:
        return f"is dated {int(when - now)} s ahead of this clock (not counted)"
    if now - when > limit:
        return f"is {int(now - when)} s old, older than your max_cosignature_age_seconds {limit} (not counted)"
    return None


@dataclass
class AuditState:
    """The largest checkpoint this auditor verified (see module docstring)."""

    path: Path
    origin: str | None = None
    head: SignedTreeHead | None = None

    @classmethod
    def load(cls, path: Path) -> AuditState:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_bytes())
        if not isinstance(data, Mapping) or data.get("format") != STATE_FORMAT:
            raise ValueError(f"{path} is not an {STATE_FORMAT} file")
        try:
            head = SignedTreeHead.from_json(data["head"])
        except (KeyError, HeadVerificationError) as exc:
            raise ValueError(f"state file: {exc}") from exc
        return cls(path, data.get("origin"), head)

    def save(self, origin: str | None, head: SignedTreeHead) -> None:
        """Atomically replace the state file (a crash leaves the old state, never half a file)."""
        data = {"format": STATE_FORMAT, "version": 1, "origin": origin, "head": head.to_json(),
                "verified_at": format_time(datetime.now(UTC))}
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, self.path)
        self.origin, self.head = origin, head


def check_state(report: Report, state: AuditState, view: SignedTreeHead | None, origin: str | None) -> None:
    """Compare the newest head of this view with the remembered one: smaller or different = failure.

    A larger view must *contain* the remembered head; the callers pass it on as a known head, so the
    DB verifier recomputes it from the entries and the bundle verifier matches it in its consistency
    chain.
    """
    kept = state.head
    if kept is None:
        report.add("state", None, f"no earlier checkpoint in {state.path.name}: this view becomes your baseline")
        return
    if origin is not None and state.origin is not None and origin != state.origin:
        report.add("state", False, f"your state file is for log {state.origin}, not {origin}")
        return
    if view is None:
        report.add("state", False, f"this view has no signed head; you verified size {kept.tree_size} before")
    elif view.tree_size < kept.tree_size:
        report.add("state", False, f"this view ends at size {view.tree_size}, but you verified size {kept.tree_size} "
                   "before: a rollback, deleted heads, or an old bundle presented as current")
    elif view.tree_size == kept.tree_size and view.root_hash != kept.root_hash:
        report.add("state", False, f"a different root at size {kept.tree_size} than the one you verified: "
                   "the log forked (two trees of one size)")
    else:
        report.add("state", True, f"not smaller than your last verified checkpoint (size {kept.tree_size})")


def finish_state(report: Report, state: AuditState | None, view: SignedTreeHead | None, origin: str | None) -> None:
    """After a passing verification, remember the newest head (never move backwards)."""
    if state is None or view is None or not report.passed:
        return
    if state.head is None or view.tree_size > state.head.tree_size:
        state.save(origin, view)
        report.add("state", True, f"remembered checkpoint of size {view.tree_size} in {state.path.name}")


def follow_key_events(report: Report, trust: TrustFile, notes: Sequence[str]) -> None:
    """Extend the pinned ring along key announcements, in order (see :mod:`lgsp.audit.keys`).

    A rotation counts only if signed by a key already trusted (pinned, or announced before) *and*
    by the new key, and cosigned by the trust file's quorum of witnesses (the old key stays trusted
    until retired). A retirement needs another trusted key's signature and the quorum; heads the
    retired key signs after the announced time are refused.
    Anything else is reported and ignored, so an inserted key never becomes trusted.
    """
    for position, note in enumerate(notes):
        name = f"key event #{position}"
        try:
            text, signatures = open_note(note)
            checkpoint = parse_checkpoint(text)
            if checkpoint.origin != trust.origin:
                raise NoteError(f"announcement for log {checkpoint.origin!r}, not {trust.origin!r}")
            signers = []
            for key in trust.ring.current:
                verifier = key.note_verifier(trust.origin)
                sig = next((s for s in signatures if s.name == verifier.name and s.key_hash == verifier.key_hash),
                           None)
                if sig is not None:
                    verifier.verify(text, sig)
                    signers.append(key)
            if not signers:
                raise NoteError("not signed by any log key you trust")
            when = next((x[len(KEY_CHANGE_AT_EXTENSION):] for x in checkpoint.extensions
                         if x.startswith(KEY_CHANGE_AT_EXTENSION)), None)
            if when is None:
                raise NoteError("the announcement does not say when the change applies")
            cosigned = _count_cosignatures(trust, text, signatures)
            if cosigned < trust.quorum:
                raise NoteError(f"cosigned by {cosigned} of your witnesses, quorum is {trust.quorum}")
            _apply_key_change(report, name, trust, checkpoint.extensions, text, signatures, signers, when)
        except (NoteError, HeadVerificationError, ValueError) as exc:
            report.add(name, False, f"key announcement not followed: {exc}")


def _count_cosignatures(trust: TrustFile, text: str, signatures: Sequence[Any]) -> int:
    good = set()
    for witness in trust.witnesses:
        for sig in signatures:
            if sig.name == witness.name and sig.key_hash == witness.key_hash:
                try:
                    witness.verify(text, sig)
                except NoteError:
                    continue
                good.add(witness.name)
    return len(good)


def _apply_key_change(report: Report, name: str, trust: TrustFile, extensions: Sequence[str], text: str,
                      signatures: Sequence[Any], signers: Sequence[LogPublicKey], when: str) -> None:
    moment = datetime.strptime(when, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    for line in extensions:
        if line.startswith(NEXT_KEY_EXTENSION):
            new = NoteVerifier.from_vkey(line[len(NEXT_KEY_EXTENSION):])
            sig = next((s for s in signatures if s.name == new.name and s.key_hash == new.key_hash), None)
            if sig is None:
                raise NoteError("a rotation must also be signed by the new key")
            new.verify(text, sig)
            key = LogPublicKey(new.public_key, created_at=when)
            if key.key_id in trust.ring:  # never a way to undo a retirement (witnesses keep it retired too)
                report.add(name, None, f"rotation to key {key.key_id[:16]}…, which you trust already: nothing "
                           "changes (a retired key stays retired)")
                continue
            trust.ring.add(key)
            report.add(name, True, f"rotation to key {key.key_id[:16]}… announced by "
                       f"{', '.join(k.key_id[:16] + '…' for k in signers)} at {when}; followed")
        elif line.startswith(RETIRE_KEY_EXTENSION):
            gone = NoteVerifier.from_vkey(line[len(RETIRE_KEY_EXTENSION):])
            target = LogPublicKey(gone.public_key)
            if target.key_id not in trust.ring or all(k.key_id == target.key_id for k in signers):
                raise NoteError("a retirement must name a trusted key and be signed by another one")
            trust.ring.retire(target.key_id, moment)
            report.add(name, True, f"key {target.key_id[:16]}… retired at {when}; followed")
