"""Crash test: 200 messages, a receiver failing 20% of calls, the worker SIGKILLed and restarted.

The worker is a real subprocess (``python -m lgsp.delivery``; two of them side by side on PostgreSQL)
killed at random moments while it is delivering; in the end every message has arrived, nothing is
lost, a duplicate always carries the same message id and body as its first copy, and each ordering
key's messages first arrived in order.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from lgsp.audit.verify import verify_chain
from lgsp.delivery import claims
from lgsp.delivery.models import OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.testing.servers import start_server
from tests.delivery.receiver import Receiver
from tests.delivery.test_outbox_store import audit_for

MESSAGES = 200
KEYS = 10
KILLS = 6
ROOT = Path(__file__).parents[2]


def start_worker(store_url: str, log: Path) -> tuple[subprocess.Popen[bytes], threading.Event]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LGSP_DVCQG_")}
    env.update(LGSP_DATABASE_URL=store_url, LGSP_DELIVERY_LEASE_SECONDS="2", LGSP_DELIVERY_BATCH_SIZE="8",
               LGSP_DELIVERY_BACKOFF_BASE_SECONDS="0.02", LGSP_DELIVERY_BACKOFF_MAX_SECONDS="0.2",
               LGSP_DELIVERY_MAX_ATTEMPTS="10000", LGSP_DELIVERY_POLL_SECONDS="0.05", PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "lgsp.delivery"], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    started = threading.Event()

    def pump() -> None:  # copy its output to a file, and tell when the loop runs
        assert proc.stdout is not None
        with log.open("ab") as out:
            for line in proc.stdout:
                out.write(line)
                if b"delivery worker started" in line:
                    started.set()

    threading.Thread(target=pump, daemon=True).start()
    return proc, started


@pytest.mark.slow
@pytest.mark.timeout(240)  # ~20-40 s on an idle machine; generous for a loaded CI runner
def test_sigkilled_worker_loses_nothing(engine: Engine, store_url: str, backend: str, tmp_path: Path) -> None:
    rng = random.Random(20261126)
    rx = Receiver(fail_rate=0.2, seed=rng.randrange(1 << 30), answer_delay=0.05)
    server = start_server(rx.app)
    log = tmp_path / "worker.log"
    sent: dict[str, tuple[int, str]] = {}  # message id -> (n, key)

    def send(count: int) -> None:
        for _ in range(count):
            n = len(sent)
            key = f"HS-{n % KEYS}"
            payload = json.dumps({"n": n, "key": key}).encode()
            result = accept(engine, NewMessage("http", payload, destination=server.url + "/inbox",
                                               ordering_key=key), audit_for("/crash-test"))
            sent[result.message_id] = (n, key)

    # PostgreSQL: two workers side by side (SKIP LOCKED keeps them apart); SQLite: one, as documented
    workers = 2 if backend == "postgresql" else 1
    try:
        send(MESSAGES // 2)
        kills = 0
        deadline = time.monotonic() + 200
        while claims.open_count(engine) or len(sent) < MESSAGES:
            assert time.monotonic() < deadline, f"deliveries stalled; see {log}"
            procs = [start_worker(store_url, log) for _ in range(workers)]
            if kills < KILLS:
                for _, started in procs:
                    assert started.wait(30), f"worker did not start; see {log}"
                time.sleep(rng.uniform(0.05, 0.8))  # somewhere in the middle of claiming/delivering
                for proc, _ in procs:
                    proc.kill()
                    proc.wait()
                kills += 1
                send((MESSAGES - len(sent)) // (KILLS - kills + 1) if kills < KILLS else MESSAGES - len(sent))
                continue
            while claims.open_count(engine) and time.monotonic() < deadline:
                time.sleep(0.05)
            for proc, _ in procs:
                proc.terminate()
                assert proc.wait(30) == 0
    finally:
        server.stop()

    assert kills == KILLS and len(sent) == MESSAGES
    receipts = list(rx.receipts)
    assert set(r.message_id for r in receipts) == set(sent), "a message was lost"
    for receipt in receipts:  # a duplicate is the same message: same id, same body
        n, key = sent[receipt.message_id]
        assert json.loads(receipt.body) == {"n": n, "key": key}
    first_seen: dict[str, list[int]] = {}
    seen: set[str] = set()
    for receipt in receipts:
        if receipt.message_id not in seen:
            seen.add(receipt.message_id)
            n, key = sent[receipt.message_id]
            first_seen.setdefault(key, []).append(n)
    assert all(ns == sorted(ns) for ns in first_seen.values()), "per-key FIFO broken"
    assert rx.calls > len(receipts)  # the receiver really failed some calls
    print(f"crash test: {len(receipts)} receipts ({len(receipts) - len(seen)} duplicates) of {MESSAGES} messages, "
          f"{rx.calls - len(receipts)} refused calls, {kills} kills")
    with Session(engine) as session:
        states = set(session.scalars(select(OutboxMessage.state)))
    assert states == {"delivered"}
    assert verify_chain(engine).ok
