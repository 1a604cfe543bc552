"""Two witnesses as real HTTP servers on 127.0.0.1, each with its own key and SQLite file."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from lgsp.audit.heads import HeadService
from lgsp.audit.witness import Witness, WitnessStore, witness_app
from lgsp.testing.servers import RunningServer, start_server

from .conftest import Store

ORIGIN = "lgsp.test/audit"


@dataclass
class RunningWitness:
    witness: Witness
    server: RunningServer

    @property
    def setting(self) -> str:
        return f"{self.server.url} {self.witness.vkey}"


@contextmanager
def two_witnesses(store: Store, tmp: Path) -> Iterator[tuple[Store, list[RunningWitness]]]:
    """The store re-configured to send its heads to two fresh witnesses that trust its log key."""
    settings = dataclasses.replace(store.settings, audit_checkpoint_origin=ORIGIN)
    log_vkey = HeadService(store.engine, settings).signer.public.note_verifier(ORIGIN).vkey()
    running = []
    try:
        for name in ("thanhtra.example/witness", "hau-giang.example/witness"):
            witness_store = WitnessStore(tmp / f"{name.split('.')[0]}.db")
            witness_store.add_log_key(log_vkey)
            witness = Witness(name, Ed25519PrivateKey.generate(), witness_store)
            running.append(RunningWitness(witness, start_server(witness_app(witness))))
        settings = dataclasses.replace(settings, audit_witnesses=", ".join(w.setting for w in running))
        yield dataclasses.replace(store, settings=settings, heads=HeadService(store.engine, settings)), running
    finally:
        for w in running:
            w.server.stop()


def trust_json(store: Store, witnesses: list[RunningWitness], quorum: int | None = None) -> dict[str, object]:
    """The trust file an auditor would keep: the log key(s) pinned now, both witnesses' keys."""
    from lgsp.audit.trust import TrustFile

    verifiers = [w.witness.signer.verifier for w in witnesses]
    return TrustFile(ORIGIN, store.heads.keyring(), verifiers,
                     len(verifiers) if quorum is None else quorum).to_json()
