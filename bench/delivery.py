"""Deliveries under failures: 200 documents, 20% of axis calls failing (half of them slow timeouts).

Why: with batch delivery one slow call held up its whole batch (``run_once`` waited for all 16 before
claiming more: 200 documents took 140 s with 8.5 s stalls). The delivery pool keeps every other slot
busy while a call times out. Three processes as in production — the axis simulator, the gateway, the
delivery worker (``python -m lgsp.delivery``) — and this process posting 50 KB packets as a DMS.

Each run: POST every packet, then wait until the outbox has settled (nothing pending or in flight).
First fault-free (the baseline, same run), then with the simulator answering 10% of calls 503 at once
and delaying 10% past the client timeout (``LGSP_VDXP_TIMEOUT``). ``ratio`` = settle time with faults /
settle time without: the price of the faults (1.0 = they cost nothing).

    .venv/bin/python bench/delivery.py [--documents N] [--timeout S] [--slow-ms MS] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.vdxp.client import AxisClient
from adapters.vdxp.poller import sync_directory
from bench.documents import RECIPIENT, SENDER, post_all, token_for, variants
from bench.edxml_parse import build_packets
from bench.support.harness import free_port, start_process, stop_process, uvicorn_cmd
from lgsp.auth.clients import create_client
from lgsp.delivery.claims import open_count
from lgsp.delivery.models import OutboxMessage
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry.declarative import apply, parse_registry_file


def put_faults(sim_url: str, faults: dict[str, Any]) -> None:
    request = urllib.request.Request(f"{sim_url}/_admin/faults", data=json.dumps(faults).encode(), method="PUT",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        assert reply.status == 200


def settle(engine: Any, limit: float) -> float:
    started = time.perf_counter()
    while open_count(engine):
        if time.perf_counter() - started > limit:
            raise TimeoutError(f"deliveries did not settle within {limit:.0f} s")
        time.sleep(0.02)
    return time.perf_counter() - started


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="lgsp-bench-delivery-"))
    if args.postgres:
        from lgsp.testing.postgres import create_database

        db_url = create_database("lgsp_bench_delivery")
    else:
        db_url = f"sqlite:///{workdir / 'lgsp.db'}"
    lgsp_secret, peer_secret = secrets.token_hex(16), secrets.token_hex(16)
    sim_config = workdir / "axis.yaml"
    sim_config.write_text(yaml.safe_dump({
        "systems": [{"system_id": "lgsp-cantho", "secret": lgsp_secret, "agencies": [SENDER]},
                    {"system_id": "vpcp", "secret": peer_secret, "agencies": [RECIPIENT]}],
        "agencies": [{"code": SENDER, "name": "Sở TT&TT Cần Thơ"}, {"code": RECIPIENT, "name": "Văn phòng Chính phủ"}],
        "max_clock_skew_s": 300}, allow_unicode=True), encoding="utf-8")
    sim_port, gw_port = free_port(), free_port()
    sim_url, gw_url = f"http://127.0.0.1:{sim_port}", f"http://127.0.0.1:{gw_port}"
    engine = make_engine(db_url)
    upgrade(engine)
    apply(engine, parse_registry_file(f"agencies:\n  - {{code: {SENDER}, name: STTTT}}\n"
                                      f"systems:\n  - {{id: {SENDER}/QLVB, name: QLVB}}\n"))
    cred = create_client(engine, f"{SENDER}/QLVB", ["gateway"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
    env.update(LGSP_DATABASE_URL=db_url, LGSP_ACCESS_LOG="false", LGSP_LOG_LEVEL="WARNING",
               LGSP_VDXP_URL=sim_url, LGSP_VDXP_SYSTEM_ID="lgsp-cantho", LGSP_VDXP_SECRET=lgsp_secret,
               LGSP_VDXP_TIMEOUT=str(args.timeout), LGSP_DELIVERY_POLL_SECONDS="0.02",
               LGSP_DELIVERY_BATCH_SIZE=str(args.pool), LGSP_DELIVERY_BACKOFF_BASE_SECONDS="1")
    procs = [start_process([sys.executable, "-m", "adapters.vdxp.simulator", "--port", str(sim_port),
                            "--config", str(sim_config)], env, f"{sim_url}/_admin/health")]
    try:
        async def sync() -> None:
            async with AxisClient(sim_url, "lgsp-cantho", lgsp_secret) as client:
                await sync_directory(engine, client)

        asyncio.run(sync())
        procs.append(start_process([*uvicorn_cmd("lgsp.app:app_from_env", gw_port), "--factory"], env,
                                   f"{gw_url}/healthz"))
        procs.append(start_process([sys.executable, "-m", "lgsp.delivery"], env))
        token = token_for(gw_url, cred.client_id, cred.client_secret)
        packet = build_packets(random.Random(20261126))["50 KB"]
        asyncio.run(post_all(gw_url, token, variants(packet, 1, "warm"), 1))  # warm-up (and a first delivery)
        settle(engine, 60)
        results: dict[str, float] = {}
        faults = {"error_rate": args.error_rate, "slow_ms": args.slow_ms, "slow_rate": args.slow_rate, "seed": 17}
        for label, injected in (("fault-free", {}), ("faults", faults)):
            put_faults(sim_url, injected)
            started = time.perf_counter()
            asyncio.run(post_all(gw_url, token, variants(packet, args.documents, label.replace("-", "")),
                                 args.connections))
            settle(engine, 600)
            results[label] = time.perf_counter() - started
        put_faults(sim_url, {})
        with engine.connect() as conn:
            attempts = int(conn.scalar(select(func.sum(OutboxMessage.attempts))) or 0)
            states = dict(conn.execute(select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)).all())
        with urllib.request.urlopen(f"{sim_url}/_admin/state", timeout=30) as reply:
            injected_counts = json.loads(reply.read()).get("injected", {})
        return {"fault_free_s": round(results["fault-free"], 2), "faults_s": round(results["faults"], 2),
                "attempts": attempts, "states": states, "injected": injected_counts}
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        engine.dispose()
        if args.postgres:
            from lgsp.testing.postgres import drop_database

            drop_database(db_url)


def main() -> None:
    parser = argparse.ArgumentParser(description="settle time of deliveries with failures and slow timeouts")
    parser.add_argument("--documents", type=int, default=200)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--pool", type=int, default=16, help="LGSP_DELIVERY_BATCH_SIZE (deliveries at once)")
    parser.add_argument("--timeout", type=float, default=5.0, help="LGSP_VDXP_TIMEOUT: the client's cut-off")
    parser.add_argument("--error-rate", type=float, default=0.1, help="calls answered 503 at once")
    parser.add_argument("--slow-rate", type=float, default=0.1, help="calls delayed past the timeout")
    parser.add_argument("--slow-ms", type=int, default=8000)
    parser.add_argument("--postgres", action="store_true", help="store on the PostgreSQL at 127.0.0.1:5432")
    args = parser.parse_args()
    result = run(args)
    print(f"{args.documents} documents, pool {args.pool}: fault-free {result['fault_free_s']} s, with "
          f"{args.error_rate:.0%} 503 + {args.slow_rate:.0%} slow ({args.slow_ms} ms > {args.timeout} s timeout) "
          f"{result['faults_s']} s (goal < 40 s); {result['attempts']} attempts in all; injected {result['injected']}")
    ratio = float(str(result["faults_s"])) / float(str(result["fault_free_s"]))
    print(f"ratio {ratio:.3f}  (settle time with faults / without; 1.0 = the faults cost nothing)")
    print(json.dumps({"benchmark": "delivery", "ratio": round(ratio, 4), "documents": args.documents,
                      "store": "postgresql" if args.postgres else "sqlite", **result}))


if __name__ == "__main__":
    main()
