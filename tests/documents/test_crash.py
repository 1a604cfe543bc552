"""Crash tests: the delivery worker and the receiving poller SIGKILLed at random moments and restarted,
with the axis simulator failing 20% of calls. Nothing is lost, nothing is stored twice, and every copy
the axis saw of a document is byte-identical (same edXML DocumentId, same hash) to the one lgsp accepted
under one message id."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

from adapters.vdxp.edxml import StatusCode, write_document, write_status
from adapters.vdxp.simulator_config import Faults
from lgsp import shutdown
from lgsp.audit.verify import verify_chain
from lgsp.delivery import claims
from lgsp.delivery.models import OutboxMessage
from lgsp.documents.models import Document, RejectedPacket
from tests.documents.conftest import OTHER, PEER, SENDER, Stack, document, status

ROOT = Path(__file__).parents[2]
DOCUMENTS = 200
KILLS = 6


def start(module: str, docs: Stack, log: Path, marker: bytes, **extra: str) -> tuple[subprocess.Popen[bytes],
                                                                                      threading.Event]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
    env.update(LGSP_DATABASE_URL=docs.url, LGSP_VDXP_URL=docs.vdxp.url, LGSP_VDXP_SYSTEM_ID=docs.vdxp.system_id,
               LGSP_VDXP_SECRET=docs.vdxp.secret, LGSP_VDXP_AGENCIES=",".join(docs.vdxp.agencies),
               LGSP_VDXP_TIMEOUT="5", PYTHONUNBUFFERED="1", **extra)
    # SIGTERM blocked until the process has its handler (lgsp.shutdown): the final phase terminates pollers
    # that may still be starting, and a signal during the interpreter's own start-up must not kill them
    proc = subprocess.Popen([sys.executable, "-m", module], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, preexec_fn=shutdown.blocked_at_spawn)
    started = threading.Event()

    def pump() -> None:
        assert proc.stdout is not None
        with log.open("ab") as out:
            for line in proc.stdout:
                out.write(line)
                if marker in line:
                    started.set()

    threading.Thread(target=pump, daemon=True).start()
    return proc, started


class Budget:
    """85 s of *running* time. Waiting for a process to start does not count: on a loaded two-core CI runner
    one start (imports, migrations) takes seconds, and seven of them were reported as a stall."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def wait_started(self, started: threading.Event, log: Path) -> None:
        began = time.monotonic()
        ok = started.wait(60)
        self.deadline += time.monotonic() - began
        assert ok, f"process did not start within 60 s; see {log}"

    def left(self) -> bool:
        return time.monotonic() < self.deadline


DELIVERY_ENV = dict(LGSP_DELIVERY_LEASE_SECONDS="2", LGSP_DELIVERY_BATCH_SIZE="8",
                    LGSP_DELIVERY_BACKOFF_BASE_SECONDS="0.02", LGSP_DELIVERY_BACKOFF_MAX_SECONDS="0.2",
                    LGSP_DELIVERY_MAX_ATTEMPTS="10000", LGSP_DELIVERY_POLL_SECONDS="0.05")


@pytest.mark.slow
@pytest.mark.timeout(600)  # process starts are slow on a loaded runner; the Budget bounds the real work
def test_sending_survives_sigkilled_workers(stack: Stack, tmp_path: Path) -> None:
    docs = stack
    rng = random.Random(20261126)
    docs.axis.faults = Faults(error_rate=0.2, error_after_commit_rate=0.05, seed=rng.randrange(1 << 30))
    log = tmp_path / "worker.log"
    accepted: dict[str, tuple[str, bytes]] = {}  # message id -> (DocumentId, packet)

    def send(count: int) -> None:
        for _ in range(count):
            packet = document(recipients=(PEER,) if len(accepted) % 3 else (PEER, OTHER))
            data = write_document(packet)
            reply = docs.post_xml(data, **{"Idempotency-Key": f"crash-{len(accepted)}"})
            assert reply.status_code == 202, reply.text
            accepted[reply.json()["message_id"]] = (packet.header.document_id, data)

    workers = 1  # two side by side on PostgreSQL are covered by tests/delivery/test_crash.py
    kills = 0
    budget = Budget(85)
    try:
        send(DOCUMENTS // 2)
        while claims.open_count(docs.engine) or len(accepted) < DOCUMENTS:
            assert budget.left(), f"deliveries stalled; see {log}"
            procs = [start("lgsp.delivery", docs, log, b"delivery worker started", **DELIVERY_ENV)
                     for _ in range(workers)]
            if kills < KILLS:
                for _, started in procs:
                    budget.wait_started(started, log)
                time.sleep(rng.uniform(0.05, 0.8))
                for proc, _ in procs:
                    proc.kill()
                    proc.wait()
                kills += 1
                send((DOCUMENTS - len(accepted)) // (KILLS - kills + 1) if kills < KILLS else DOCUMENTS - len(accepted))
                continue
            for _, started in procs:
                budget.wait_started(started, log)
            while claims.open_count(docs.engine) and budget.left():
                time.sleep(0.05)
            for proc, _ in procs:
                proc.terminate()
                assert proc.wait(30) == 0
    finally:
        docs.axis.faults = Faults()

    assert kills == KILLS and len(accepted) == DOCUMENTS
    snapshot = docs.axis.snapshot()
    by_document = {document_id: message_id for message_id, (document_id, _) in accepted.items()}
    assert len(by_document) == DOCUMENTS  # one DocumentId per message id
    copies = Counter(s["documentId"] for s in snapshot["sent"] if s["documentId"] in by_document)
    assert set(copies) == set(by_document), "a document never reached the axis"
    packets = {document_id: data for document_id, data in accepted.values()}
    for message in snapshot["messages"]:
        sent = next(s for s in snapshot["sent"] if s["senderDocId"] == message["senderDocId"])
        if sent["documentId"] in packets:  # every copy is byte-identical to what lgsp accepted
            assert message["hashFile"] == hashlib.sha256(packets[sent["documentId"]]).hexdigest()
    with docs.engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.message_id, OutboxMessage.state, OutboxMessage.remote_id)
                            .where(OutboxMessage.message_id.in_(list(accepted)))).all()
    assert {r.state for r in rows} == {"delivered"} and len(rows) == DOCUMENTS
    sender_ids = {s["senderDocId"]: s["documentId"] for s in snapshot["sent"]}
    for row in rows:  # the recorded axis doc id is one of the copies of that very document
        assert sender_ids[row.remote_id] == accepted[row.message_id][0]
    duplicates = sum(copies.values()) - DOCUMENTS
    print(f"sending crash test ({docs.backend}): {DOCUMENTS} documents, {duplicates} duplicate sends, {kills} kills, "
          f"{snapshot['injected']} injected faults")
    assert snapshot["injected"].get("error", 0) > 0
    assert duplicates > 0  # lost answers (error after commit) really made lgsp send some documents twice
    assert verify_chain(docs.engine).ok


POLLER_ENV = dict(LGSP_VDXP_POLL_SECONDS="0.05", LGSP_VDXP_DIRECTORY_SECONDS="3600", LGSP_VDXP_PARSE_ATTEMPTS="8")


def _waiting(docs: Stack) -> int:
    return sum(1 for m in docs.axis.snapshot()["messages"]
               if m["to"] in (SENDER, OTHER) and m["status"] in ("initial", "processing"))


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_receiving_survives_sigkilled_pollers(stack: Stack, tmp_path: Path) -> None:
    docs = stack
    rng = random.Random(11262026)
    docs.axis.faults = Faults(duplicate_rate=0.2, seed=rng.randrange(1 << 30))
    expected: set[tuple[str, str]] = set()  # (recipient agency, packet sha256)

    ours = [document() for _ in range(5)]
    for index in range(DOCUMENTS):
        if index % 4 == 3:  # status packets about our own documents, with distinct timestamps
            about = ours[index % len(ours)]
            data = write_status(status(about, StatusCode.PROCESSING,
                                       when=about.trace.trace_headers[0].timestamp.replace(second=index % 60,
                                                                                           minute=index // 60)))
            recipients: tuple[str, ...] = (SENDER,)
        else:
            recipients = (SENDER,) if index % 3 else (SENDER, OTHER)
            data = write_document(document(sender=PEER, recipients=recipients))
        docs.peer_send(data)
        expected.update((agency, hashlib.sha256(data).hexdigest()) for agency in recipients)
    queued = [m for m in docs.axis.snapshot()["messages"] if m["to"] in (SENDER, OTHER)]
    copies = len(queued)
    assert copies > len(expected)  # the axis really queued duplicates
    # anything else waiting for our agencies (e.g. lgsp's own sends to OTHER earlier in the module) counts too
    expected.update((m["to"], m["hashFile"]) for m in queued)
    with docs.engine.connect() as conn:
        expected.update((r.agency, r.packet_sha256) for r in conn.execute(
            select(Document.agency, Document.packet_sha256).where(Document.direction == "in")))
    docs.axis.faults = Faults(error_rate=0.2, error_after_commit_rate=0.1, malformed_fetch_rate=0.05,
                              seed=rng.randrange(1 << 30))
    log = tmp_path / "poller.log"
    pollers = 2 if docs.backend == "postgresql" else 1  # two pollers racing for the same messages
    kills = 0
    budget = Budget(85)
    try:
        while _waiting(docs):
            assert budget.left(), f"receiving stalled ({_waiting(docs)} waiting); see {log}"
            procs = [start("lgsp.documents", docs, log, b"document receiving started", **POLLER_ENV)
                     for _ in range(pollers)]
            if kills < KILLS:
                for _, started in procs:
                    budget.wait_started(started, log)
                time.sleep(rng.uniform(0.05, 0.6))
                for proc, _ in procs:
                    proc.kill()
                    proc.wait()
                kills += 1
                continue
            for _, started in procs:
                budget.wait_started(started, log)
            while _waiting(docs) and budget.left():
                time.sleep(0.05)
            for proc, _ in procs:
                proc.terminate()
                assert proc.wait(30) == 0
    finally:
        docs.axis.faults = Faults()

    assert kills >= 2, "the pollers were not killed mid-run often enough to test anything"
    with docs.engine.connect() as conn:
        stored = conn.execute(select(Document.agency, Document.packet_sha256, Document.axis_doc_id)
                              .where(Document.direction == "in")).all()
        rejected = conn.scalar(select(func.count()).select_from(RejectedPacket))
    keys = [(r.agency, r.packet_sha256) for r in stored]
    assert len(keys) == len(set(keys)), "a packet was stored twice"
    assert set(keys) == expected, "a packet was lost"
    assert rejected == 0
    statuses = Counter(m["status"] for m in docs.axis.snapshot()["messages"] if m["to"] in (SENDER, OTHER))
    assert set(statuses) == {"done"}
    print(f"receiving crash test ({docs.backend}): {len(expected)} packets, {copies} axis copies, {kills} kills, "
          f"{docs.axis.snapshot()['injected']} injected faults")
    assert verify_chain(docs.engine).ok
