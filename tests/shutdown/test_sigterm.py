"""SIGTERM at random moments (fixed seeds) to every long-running lgsp process: it always exits 0.

Each process is a real subprocess started with SIGTERM blocked (``preexec_fn``), as a careful supervisor
would: that covers the interpreter's own start-up, the one moment no handler can exist, so "any moment"
really means any moment from ``exec`` on — imports, migrations, uvicorn's start-up, serving, stopping.
The delivery worker is also checked for what it held: after each clean exit no message is left
``in_flight`` (finished, or its lease released), and in the end every message arrived.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from lgsp.delivery import claims
from lgsp.delivery.models import IN_FLIGHT, OutboxMessage
from lgsp.delivery.outbox import NewMessage, accept
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database
from lgsp.testing.servers import start_server
from tests.delivery.receiver import Receiver

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def blocked_at_spawn() -> None:
    """Like :func:`lgsp.shutdown.blocked_at_spawn` (kept here so this file also runs against older code)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


def spawn(args: list[str], env: dict[str, str], log: Path, blocked: bool = True) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=blocked_at_spawn if blocked else None)


def terminate(proc: subprocess.Popen[bytes], after: float, log: Path) -> None:
    time.sleep(after)
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"no exit within 60 s of SIGTERM sent after {after:.3f} s; see {log}") from None
    assert code == 0, f"exit {code} on SIGTERM after {after:.3f} s; see {log}:\n{log.read_text()[-3000:]}"


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path, limit: float = 90) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early; see {log}:\n{log.read_text()[-3000:]}"
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not up; see {log}")


def base_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
    env.update(LGSP_DATABASE_URL=f"sqlite:///{tmp / 'lgsp.db'}", PYTHONUNBUFFERED="1")
    return env


def commands(tmp: Path) -> dict[str, tuple[list[str], str | None]]:
    """name -> (arguments after ``python``, a URL that answers once it serves, or None)."""
    vdxp_config = tmp / "axis.yaml"
    if not vdxp_config.exists():
        subprocess.run([sys.executable, "-m", "adapters.vdxp.simulator", "--config", str(vdxp_config),
                        "--init-config"], cwd=ROOT, check=True, capture_output=True)
    port = free_port()
    return {
        "serve": (["-m", "lgsp.cli", "serve", "--port", str(port)], f"http://127.0.0.1:{port}/readyz"),
        "serve --workers 2": (["-m", "lgsp.cli", "serve", "--port", str(port), "--workers", "2"],
                              f"http://127.0.0.1:{port}/readyz"),
        "worker": (["-m", "lgsp.cli", "worker"], None),
        "delivery loop": (["-m", "lgsp.delivery"], None),
        "document poller": (["-m", "lgsp.documents"], None),
        "ngsp simulator": (["-m", "lgsp.cli", "simulate", "ngsp", "--port", str(port)], f"http://127.0.0.1:{port}/"),
        "dvcqg simulator": (["-m", "adapters.dvcqg.simulator", "--port", str(port)], f"http://127.0.0.1:{port}/"),
        "vdxp simulator": (["-m", "adapters.vdxp.simulator", "--config", str(vdxp_config), "--port", str(port)],
                           f"http://127.0.0.1:{port}/"),
    }


NAMES = ["serve", "serve --workers 2", "worker", "delivery loop", "document poller", "ngsp simulator",
         "dvcqg simulator", "vdxp simulator"]


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", NAMES)
def test_sigterm_at_any_moment_exits_0(name: str, tmp_path: Path) -> None:
    rng = random.Random(f"sigterm-{name}")
    env = base_env(tmp_path)
    upgrade(make_engine(env["LGSP_DATABASE_URL"]))  # so a worker's start is not all migrations
    if name == "document poller":  # an axis that is down: rounds fail, the poller keeps going until SIGTERM
        env.update(LGSP_VDXP_URL=f"http://127.0.0.1:{free_port()}", LGSP_VDXP_SYSTEM_ID="lgsp-test",
                   LGSP_VDXP_SECRET="s" * 32, LGSP_VDXP_POLL_SECONDS="0.2")
    log = tmp_path / "process.log"
    args, ready_url = commands(tmp_path)[name]
    if ready_url is not None:  # once while it serves (uvicorn re-raising the signal used to give -15)
        proc = spawn(args, env, log)
        wait_ready(ready_url, proc, log)
        terminate(proc, 0.0, log)
    for _ in range(4):  # and at random moments of the start-up: imports, migrations, binding, serving
        terminate(spawn(args, env, log), rng.uniform(0.0, 4.0), log)


def _in_flight(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return len(conn.execute(select(OutboxMessage.seq).where(OutboxMessage.state == IN_FLIGHT)).all())


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_worker_sigterm_loses_nothing_and_releases_leases(backend: str, tmp_path: Path) -> None:
    """``lgsp worker`` SIGTERMed while it delivers: exit 0, nothing left claimed, everything arrives."""
    url = f"sqlite:///{tmp_path / 'lgsp.db'}" if backend == "sqlite" else create_database("lgsp_t_sigterm")
    engine = make_engine(url)
    upgrade(engine)
    receiver = Receiver(answer_delay=0.4)
    server = start_server(receiver.app)
    env = base_env(tmp_path)
    # a long lease: a message a stopped worker still held would wait a minute, and the test would notice
    env.update(LGSP_DATABASE_URL=url, LGSP_DELIVERY_LEASE_SECONDS="60", LGSP_DELIVERY_BATCH_SIZE="4",
               LGSP_DELIVERY_POLL_SECONDS="0.05", LGSP_DELIVERY_BACKOFF_BASE_SECONDS="0.02",
               LGSP_DELIVERY_BACKOFF_MAX_SECONDS="0.1", LGSP_DELIVERY_MAX_ATTEMPTS="1000",
               LGSP_DELIVERY_SHUTDOWN_GRACE_SECONDS="0.2")
    log = tmp_path / "worker.log"
    rng = random.Random(170303)
    try:
        ids = [accept(engine, NewMessage("http", f"m{i}".encode(), destination=server.url + "/inbox")).message_id
               for i in range(40)]
        for _ in range(6):
            terminate(spawn(["-m", "lgsp.cli", "worker"], env, log, blocked=False), rng.uniform(0.5, 6.0), log)
            assert _in_flight(engine) == 0, "a stopped worker kept messages claimed"
        proc = spawn(["-m", "lgsp.cli", "worker"], env, log)
        deadline = time.monotonic() + 120
        while claims.open_count(engine) and time.monotonic() < deadline:
            time.sleep(0.1)
        terminate(proc, 0.0, log)
        assert claims.open_count(engine) == 0, f"deliveries stalled; see {log}"
        assert set(receiver.received_ids()) == set(ids), "a message was lost"
        with engine.connect() as conn:
            states = set(conn.scalars(select(OutboxMessage.state)))
        assert states == {"delivered"}
    finally:
        server.stop()
        engine.dispose()
        if backend == "postgresql":
            drop_database(url)
