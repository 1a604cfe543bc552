"""Console page speed with a large audit log: the log page, filtered searches and the home page.

Usage: .venv/bin/python bench/console.py [--entries 1000000] [--no-postgres]

Fills the store with synthetic audit rows (realistic mix: 20 services, 40 clients, ~5% errors; hashes are
random, so this measures reading, not the log's integrity), starts `lgsp serve`'s app on 127.0.0.1, signs in,
and times each page over HTTP (median of 25 requests, after 3 warm-ups). Baseline, same run: the bare SQL
query behind the log page. Targets (issue 13): log page and filtered search < 150 ms, home < 100 ms.
Last line: one JSON object; `ratio` = baseline log query time / console log page time (SQLite).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import Engine, insert, select

from lgsp.app import create_app
from lgsp.audit.models import AuditEntry
from lgsp.audit.tree_store import SqlTreeStore
from lgsp.console.accounts import create_user
from lgsp.settings import Settings
from lgsp.testing.servers import start_server

SERVICES = [f"000.00.{30 + i}.H10/PROV/svc-{i}" for i in range(20)]
CLIENTS = [f"000.00.12.H10/SYS{i:02d}" for i in range(40)]
PASSWORD = "bench-password-123"


def fill(engine: Engine, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    step = timedelta(days=30) / max(count, 1)
    batch: list[dict[str, object]] = []
    tree = SqlTreeStore(engine)
    for i in range(count):
        status = 200 if rng.random() > 0.05 else rng.choice([404, 500, 503, 504])
        batch.append({"idx": i, "time": start + step * i, "message_id": f"m-{i:08d}", "correlation_id": None,
                      "client": rng.choice(CLIENTS), "service": rng.choice(SERVICES), "method": "GET",
                      "path": "/services/x", "user_id": None, "status": status,
                      "latency_us": int(rng.lognormvariate(8, 0.6)), "request_sha256": None, "response_sha256": None,
                      "problem_type": None, "signature_report_sha256": None, "extra": {},
                      "leaf_hash": rng.randbytes(32), "chain_hash": rng.randbytes(32)})
        if len(batch) == 20_000 or i == count - 1:
            with engine.begin() as conn:
                conn.execute(insert(AuditEntry), batch)
            tree.append([bytes(row["leaf_hash"]) for row in batch], int(batch[0]["idx"]))  # type: ignore[arg-type]
            batch = []


def median_ms(http: httpx.Client, path: str, params: dict[str, str] | None = None) -> float:
    for _ in range(3):
        warm = http.get(path, params=params)
        assert warm.status_code == 200, f"{path} {params}: {warm.status_code} {warm.text[:300]}"
    times = []
    for _ in range(25):
        began = time.perf_counter()
        response = http.get(path, params=params)
        times.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.text[:200]
    return statistics.median(times)


def baseline_ms(engine: Engine) -> float:
    times = []
    for _ in range(25):
        began = time.perf_counter()
        with engine.connect() as conn:
            conn.execute(select(AuditEntry).order_by(AuditEntry.idx.desc()).limit(50)).all()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def measure(database_url: str, entries: int, workdir: Path) -> dict[str, float]:
    settings = Settings.load(database_url=database_url, access_log=False, audit_heads_enabled=False,
                             audit_log_key_file=str(workdir / "key.pem"))
    app = create_app(settings)
    engine = app.runtime.engine
    began = time.perf_counter()
    fill(engine, entries)
    print(f"  filled {entries:,} entries in {time.perf_counter() - began:.0f} s")
    create_user(engine, "bench", "auditor", PASSWORD)
    server = start_server(app)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            page = http.get("/console/login").text
            csrf = page.split('name="csrf" value="')[1].split('"')[0]
            http.post("/console/login", data={"username": "bench", "password": PASSWORD, "csrf": csrf})
            return {
                "log_ms": median_ms(http, "/console/log"),
                "log_service_status_ms": median_ms(http, "/console/log", {"service": SERVICES[3], "status": "503"}),
                "log_client_ms": median_ms(http, "/console/log", {"client": CLIENTS[5]}),
                "log_agency_ms": median_ms(http, "/console/log", {"agency": "000.00.33.H10"}),
                "log_id_ms": median_ms(http, "/console/log", {"id": f"m-{entries // 2:08d}"}),
                "log_page_deep_ms": median_ms(http, "/console/log", {"before": str(entries // 3)}),
                "home_ms": median_ms(http, "/console/"),
                "baseline_query_ms": baseline_ms(engine),
            }
    finally:
        server.stop()
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (the ratio is then PostgreSQL's)")
    opts = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-console-") as tmp:
        if not opts.no_sqlite:
            print("SQLite:")
            results["sqlite"] = measure(f"sqlite:///{tmp}/console.db", opts.entries, Path(tmp))
        if not opts.no_postgres:
            from lgsp.testing.postgres import create_database, drop_database

            url = create_database("lgsp_bench_console")
            try:
                print("PostgreSQL:")
                results["postgresql"] = measure(url, opts.entries, Path(tmp))
            finally:
                drop_database(url)
    for backend, figures in results.items():
        print(f"{backend}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))
        worst_log = max(v for k, v in figures.items() if k.startswith("log_"))
        print(f"  worst log page {worst_log:.1f} ms (target < 150): {'met' if worst_log < 150 else 'MISSED'}; "
              f"home {figures['home_ms']:.1f} ms (target < 100): {'met' if figures['home_ms'] < 100 else 'MISSED'}")
    first = results.get("sqlite") or results["postgresql"]
    print(json.dumps({"entries": opts.entries, **{f"{b}_{k}": round(v, 2) for b, r in results.items()
                                                  for k, v in r.items()},
                      "ratio": round(first["baseline_query_ms"] / first["log_ms"], 3)}))


if __name__ == "__main__":
    os.environ.setdefault("LGSP_ACCESS_LOG", "false")
    main()
