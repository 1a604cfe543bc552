"""Gateway throughput: direct vs bare reverse proxy (the Python ceiling) vs lgsp, in one run.

Usage: .venv/bin/python bench/gateway.py [--seconds 8] [--connections 64] [--no-workers2]

Prints a table, then as the last line one JSON object with direct_rps, bare_proxy_rps, lgsp_rps,
ratio (= lgsp_rps / bare_proxy_rps), the p99 latencies and lgsp with `--workers 2`.
lgsp runs as `lgsp serve` on its embedded default store (SQLite, WAL) with token check, grant check,
one durable audit row per call and the JSON access log (sent to /dev/null).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.support.harness import (
    LoadResult,
    as_dict,
    free_port,
    load,
    start_process,
    stop_process,
    summary_table,
    uvicorn_cmd,
)

SERVICE = "000.00.25.H10/QUANTRAC/chat-luong-khong-khi"
CLIENT = "000.00.12.H10/MOTCUA"


def registry_file(provider_url: str) -> str:
    return f"""
agencies:
  - {{code: 000.00.12.H10, name: UBND thành phố Cần Thơ}}
  - {{code: 000.00.25.H10, name: Sở Tài nguyên và Môi trường, parent: 000.00.12.H10}}
systems:
  - {{id: {CLIENT}, name: Một cửa}}
  - {{id: 000.00.25.H10/QUANTRAC, name: Quan trắc, client: false, provider: true}}
services:
  - {{id: {SERVICE}, name: Chất lượng không khí, base_url: "{provider_url}", idempotent_methods: [GET]}}
grants:
  - {{client: {CLIENT}, service: {SERVICE}, methods: [GET]}}
"""


def lgsp(args: list[str], env: dict[str, str]) -> str:
    return subprocess.run([sys.executable, "-m", "lgsp.cli", *args], env=env, capture_output=True, text=True,
                          check=True).stdout


def measure_lgsp(provider_url: str, workers: int, seconds: float, connections: int, workdir: Path,
                 database_url: str | None = None) -> LoadResult:
    env = {**os.environ, "LGSP_DATABASE_URL": database_url or f"sqlite:///{workdir / f'bench-{workers}.db'}"}
    (workdir / "registry.yaml").write_text(registry_file(provider_url), encoding="utf-8")
    lgsp(["apply", str(workdir / "registry.yaml")], env)
    cred = json.loads(lgsp(["clients", "create", "--system", CLIENT, "--json"], env))
    port = free_port()
    proc = start_process([sys.executable, "-m", "lgsp.cli", "serve", "--port", str(port), "--workers", str(workers)],
                         env=env, ready_url=f"http://127.0.0.1:{port}/healthz")
    try:
        import base64
        import urllib.request

        basic = base64.b64encode(f"{cred['client_id']}:{cred['client_secret']}".encode()).decode()
        request = urllib.request.Request(f"http://127.0.0.1:{port}/oauth/token", data=b"grant_type=client_credentials",
                                         headers={"Authorization": f"Basic {basic}",
                                                  "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(request) as response:
            token = json.loads(response.read())["access_token"]
        url = f"http://127.0.0.1:{port}/services/{SERVICE}/readings/latest"
        headers = {"Authorization": f"Bearer {token}"}
        load(url, seconds=1, connections=connections, headers=headers)  # warm-up
        return load(url, seconds=seconds, connections=connections, headers=headers)
    finally:
        stop_process(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--no-workers2", action="store_true", help="skip the lgsp --workers 2 runs")
    parser.add_argument("--no-postgres", action="store_true", help="skip the run on PostgreSQL (127.0.0.1:5432)")
    opts = parser.parse_args()

    provider_port, proxy_port = free_port(), free_port()
    provider = start_process(uvicorn_cmd("bench.support.servers:provider", provider_port),
                             ready_url=f"http://127.0.0.1:{provider_port}/")
    provider_url = f"http://127.0.0.1:{provider_port}"
    proxy = start_process(uvicorn_cmd("bench.support.servers:bare_proxy", proxy_port),
                          env={"BENCH_UPSTREAM": provider_url}, ready_url=f"http://127.0.0.1:{proxy_port}/")
    rows: list[tuple[str, LoadResult]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lgsp-bench-") as tmp:
            load(provider_url + "/readings/latest", seconds=1, connections=opts.connections)
            direct = load(provider_url + "/readings/latest", seconds=opts.seconds, connections=opts.connections)
            rows.append(("(a) provider directly", direct))
            proxy_url = f"http://127.0.0.1:{proxy_port}/readings/latest"
            load(proxy_url, seconds=1, connections=opts.connections)
            bare = load(proxy_url, seconds=opts.seconds, connections=opts.connections)
            rows.append(("(b) bare reverse proxy (ceiling)", bare))
            stop_process(proxy)
            one = measure_lgsp(provider_url, 1, opts.seconds, opts.connections, Path(tmp))
            rows.append(("(c) lgsp, 1 worker", one))
            two = two_pg = None
            if not opts.no_workers2:
                two = measure_lgsp(provider_url, 2, opts.seconds, opts.connections, Path(tmp))
                rows.append(("(c) lgsp, --workers 2", two))
            if not opts.no_workers2 and not opts.no_postgres:
                from lgsp.testing.postgres import create_database, drop_database

                url = create_database("lgsp_bench")
                try:
                    two_pg = measure_lgsp(provider_url, 2, opts.seconds, opts.connections, Path(tmp), url)
                    rows.append(("(c) lgsp, --workers 2, PostgreSQL", two_pg))
                finally:
                    drop_database(url)
    finally:
        stop_process(provider)
        if proxy.poll() is None:
            stop_process(proxy)
    print(f"load generator: {rows[0][1].tool}, {opts.connections} connections, {opts.seconds:g} s per target, "
          f"{os.cpu_count()} cores shared by generator, proxy and provider")
    print(summary_table(rows, bare))
    figures = {
        "direct_rps": round(direct.rps, 1), "bare_proxy_rps": round(bare.rps, 1), "lgsp_rps": round(one.rps, 1),
        "ratio": round(one.rps / bare.rps, 3), "direct_p99_ms": round(direct.p99_ms, 3),
        "bare_proxy_p99_ms": round(bare.p99_ms, 3), "lgsp_p99_ms": round(one.p99_ms, 3),
        "lgsp_workers2_rps": round(two.rps, 1) if two else None,
        "lgsp_workers2_p99_ms": round(two.p99_ms, 3) if two else None,
        "lgsp_workers2_postgres_rps": round(two_pg.rps, 1) if two_pg else None,
        "lgsp_workers2_postgres_p99_ms": round(two_pg.p99_ms, 3) if two_pg else None,
        "errors": sum(r.errors for _, r in rows), "detail": {name: as_dict(r) for name, r in rows},
    }
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
