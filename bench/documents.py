"""Official documents end to end: DMS -> lgsp façade -> outbox -> delivery worker -> axis simulator.

Three separate processes, as in production: the axis simulator, the lgsp gateway (``uvicorn
lgsp.app:app_from_env``) and the delivery worker (``python -m lgsp.delivery``); this process plays the
DMS, posting packets with a few connections. A run's clock starts at the first POST and stops when the
last document has been delivered to the simulator (outbox empty), so the figure is accepted *and*
delivered documents per second — each acceptance a committed transaction (document + outbox + audit),
each delivery an HMAC-signed multipart ``sendEdoc`` that the simulator verifies and parses.

Packets come from ``bench/edxml_parse.py``: ~50 KB (one attachment) and ~5 MB (three attachments, one
zipped). The same script's parse + validate measurement is repeated here and gives the headline
``ratio`` = edXML parse+validate throughput / bare ``lxml.etree.fromstring`` throughput (geometric mean
over the two sizes; 1.0 would mean validation is free).

Also printed: CPU ms per document of each process (steadier than docs/s on a shared machine), and for
one 50 MB attachment (``--huge 1``) each process's peak RSS above its idle RSS, in packet sizes (the
poller: a fresh ``lgsp documents poll`` process, compared with one that found nothing to receive).

    .venv/bin/python bench/documents.py [--small N] [--large N] [--connections C] [--postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from adapters.vdxp.client import AxisClient
from adapters.vdxp.poller import sync_directory
from bench.edxml_parse import build_packets, measure
from bench.support.harness import free_port, group_cpu_seconds, start_process, stop_process, uvicorn_cmd
from lgsp.auth.clients import create_client
from lgsp.delivery.claims import open_count
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from registry.declarative import apply, parse_registry_file

SENDER = "000.00.12.H10"
RECIPIENT = "000.00.00.G22"
MB = 1024 * 1024


_DOC_ID = b",2026/11/20,1234/STTTT-VP</DocumentId>"


def variants(packet: bytes, count: int, run: str) -> list[bytes]:
    """``count`` copies that differ only in their DocumentId: distinct documents, as in real traffic.

    (Identical DocumentIds would share one outbox FIFO lane and be delivered strictly one after another.)
    """
    assert _DOC_ID in packet
    return [packet.replace(_DOC_ID, f",2026/11/20,{run}{i:05d}/STTTT-VP</DocumentId>".encode()) for i in range(count)]


async def post_all(url: str, token: str, packets: list[bytes], connections: int) -> list[float]:
    """POST every packet with ``connections`` concurrent senders; returns each acceptance latency (s)."""
    latencies: list[float] = []
    queue = list(packets)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/xml"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def sender() -> None:
            while queue:
                packet = queue.pop()
                started = time.perf_counter()
                async with session.post(f"{url}/documents?kind=edoc", data=packet, headers=headers) as reply:
                    body = await reply.read()
                    if reply.status != 202:
                        raise RuntimeError(f"POST /documents answered {reply.status}: {body[:300]!r}")
                latencies.append(time.perf_counter() - started)

        await asyncio.gather(*(sender() for _ in range(connections)))
    return latencies


def token_for(url: str, client_id: str, secret: str) -> str:
    import base64
    import urllib.request

    request = urllib.request.Request(f"{url}/oauth/token", data=b"grant_type=client_credentials", method="POST",
                                     headers={"Authorization": "Basic " + base64.b64encode(
                                         f"{client_id}:{secret}".encode()).decode(),
                                              "Content-Type": "application/x-www-form-urlencoded"})
    with urllib.request.urlopen(request, timeout=10) as reply:
        return str(json.loads(reply.read())["access_token"])


def _status_mb(pid: int, key: str) -> float:
    """``VmRSS`` / ``VmHWM`` (peak RSS) of a running process, in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def huge_run(engine: object, procs: list[Any], gw_url: str, sim_url: str, token: str, peer_secret: str,
             env: dict[str, str]) -> dict[str, object]:
    """One packet with a 50 MB attachment out (DMS → gateway → outbox → worker → axis) and one in
    (axis → poller), reporting each process's peak RSS above its idle RSS, in MB and in packet sizes."""
    from adapters.vdxp.edxml import Attachment, new_content_id
    from bench.edxml_parse import _packet

    big = _packet([Attachment(new_content_id(), "hoso-50mb.pdf", random.Random(7).randbytes(50 * MB),
                              "application/pdf")])
    size_mb = len(big) / MB
    sim, gateway, worker = procs
    idle = {name: _status_mb(p.pid, "VmRSS") for name, p in (("gateway", gateway), ("worker", worker),
                                                               ("simulator", sim))}
    started = time.perf_counter()
    asyncio.run(post_all(gw_url, token, variants(big, 1, "huge"), 1))
    while open_count(engine):  # type: ignore[arg-type]
        time.sleep(0.05)
    out_s = time.perf_counter() - started
    peak = {name: _status_mb(p.pid, "VmHWM") for name, p in (("gateway", gateway), ("worker", worker),
                                                               ("simulator", sim))}
    incoming = big.replace(SENDER.encode(), b"@@@").replace(RECIPIENT.encode(), SENDER.encode()) \
        .replace(b"@@@", RECIPIENT.encode())

    async def peer_send() -> None:
        async with AxisClient(sim_url, "vpcp", peer_secret) as peer:
            await peer.send_edoc(incoming)

    def poll() -> float:
        """One ``lgsp documents poll`` process; returns its peak RSS (MB), as the process itself saw it.

        (Not ``wait4``'s ``ru_maxrss``: Linux carries the parent's RSS into a vforked child's maximum, so
        that figure was this bench process's size, not the poller's.)
        """
        report = Path(tempfile.mkstemp(prefix="lgsp-poll-")[1])
        code = ("import atexit, runpy, sys\n"
                f"atexit.register(lambda: open({str(report)!r}, 'w').write(open('/proc/self/status').read()))\n"
                "sys.argv = ['lgsp', 'documents', 'poll']\n"
                "runpy.run_module('lgsp.cli', run_name='__main__')\n")
        done = subprocess.run([sys.executable, "-c", code], env={**os.environ, **env}, check=False,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if done.returncode != 0:
            raise RuntimeError(f"the poll process failed with status {done.returncode}")
        status = report.read_text()
        report.unlink()
        return next(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:"))

    poll_idle = poll()  # nothing waiting: the peak of the process itself (imports, one empty round)
    asyncio.run(peer_send())
    started = time.perf_counter()
    poll_peak = poll()
    in_s = time.perf_counter() - started
    print(f"50 MB attachment: packet {size_mb:.1f} MB; out {out_s:.2f} s, in {in_s:.2f} s (incl. process start)")
    print(f"{'process':>10} {'idle MB':>8} {'peak MB':>8} {'peak-idle':>9} {'x packet':>8}")
    result: dict[str, object] = {"huge_packet_mb": round(size_mb, 1), "huge_out_s": round(out_s, 2),
                                 "huge_in_s": round(in_s, 2)}
    for name in ("gateway", "worker", "simulator"):
        grown = peak[name] - idle[name]
        print(f"{name:>10} {idle[name]:>8.1f} {peak[name]:>8.1f} {grown:>9.1f} {grown / size_mb:>8.2f}")
        result[f"huge_{name}_peak_rss_mb"] = round(peak[name], 1)
        result[f"huge_{name}_growth_mb"] = round(grown, 1)
    grown = poll_peak - poll_idle
    print(f"{'poller':>10} {poll_idle:>8.1f} {poll_peak:>8.1f} {grown:>9.1f} {grown / size_mb:>8.2f}"
          "  (fresh processes; 'idle' = the peak of one that found nothing to receive)")
    result["huge_poller_peak_rss_mb"] = round(poll_peak, 1)
    result["huge_poller_growth_mb"] = round(grown, 1)
    return result


def run(args: argparse.Namespace) -> dict[str, object]:
    workdir = Path(tempfile.mkdtemp(prefix="lgsp-bench-docs-"))
    if args.postgres:
        from lgsp.testing.postgres import create_database

        db_url = create_database("lgsp_bench_docs")
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
                                      f"systems:\n  - {{id: {SENDER}/QLVB, name: QLVB}}\n"
                                      f"object_grants:\n  - {{client: {SENDER}/QLVB, objects: documents, "
                                      f"agency: {SENDER}}}\n"))
    cred = create_client(engine, f"{SENDER}/QLVB", ["gateway"])
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LGSP_DVCQG_", "LGSP_VDXP_"))}
    env.update(LGSP_DATABASE_URL=db_url, LGSP_ACCESS_LOG="false", LGSP_LOG_LEVEL="WARNING",
               LGSP_VDXP_URL=sim_url, LGSP_VDXP_SYSTEM_ID="lgsp-cantho", LGSP_VDXP_SECRET=lgsp_secret,
               LGSP_DELIVERY_POLL_SECONDS="0.02", LGSP_DELIVERY_BATCH_SIZE="16")
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
        packets = build_packets(random.Random(20261126))
        results: dict[str, object] = {}
        asyncio.run(post_all(gw_url, token, variants(packets["50 KB"], 1, "warm"), 1))
        while open_count(engine):
            time.sleep(0.02)
        if args.huge:  # first, so the peak RSS figures are not the concurrent 5 MB runs' peaks
            results.update(huge_run(engine, procs, gw_url, sim_url, token, peer_secret, env))
        rows = []
        for label, count in (("50 KB", args.small), ("5 MB", args.large)):
            if count <= 0:  # --small 0 / --large 0: that size is skipped
                continue
            packet = packets[label]
            key = label.replace(" ", "").lower()
            asyncio.run(post_all(gw_url, token, variants(packet, 1, key + "w"), 1))  # warm-up (and a first delivery)
            while open_count(engine):
                time.sleep(0.02)
            copies = variants(packet, count, key)
            cpu_before = [group_cpu_seconds(p.pid) for p in procs]
            started = time.perf_counter()
            latencies = asyncio.run(post_all(gw_url, token, copies, args.connections))
            accepted_s = time.perf_counter() - started
            while open_count(engine):
                time.sleep(0.01)
            elapsed = time.perf_counter() - started
            # CPU ms per document in each lgsp process: far steadier than docs/s on a shared machine
            for name, proc, before in zip(("simulator", "gateway", "worker"), procs, cpu_before, strict=True):
                spent = group_cpu_seconds(proc.pid) - before
                results[f"{key}_{name}_cpu_ms_per_doc"] = round(spent * 1000 / count, 2)
            rate = count / elapsed
            results[f"{key}_docs_per_s"] = round(rate, 2)
            results[f"{key}_mb_per_s"] = round(rate * len(packet) / MB, 2)
            results[f"{key}_accept_p50_ms"] = round(statistics.median(latencies) * 1000, 1)
            results[f"{key}_accept_docs_per_s"] = round(count / accepted_s, 2)
            rows.append((label, len(packet), count, elapsed, rate, statistics.median(latencies) * 1000))
        print(f"{'packet':>7} {'bytes':>9} {'docs':>5} {'seconds':>8} {'docs/s':>8} {'MB/s':>7} {'accept p50 ms':>14}")
        for label, size, count, elapsed, rate, p50 in rows:
            print(f"{label:>7} {size:>9} {count:>5} {elapsed:>8.2f} {rate:>8.2f} {rate * size / MB:>7.2f} {p50:>14.1f}")
        for label, *_ in rows:
            key = label.replace(" ", "").lower()
            print(f"{label:>7} CPU ms/doc: " + ", ".join(
                f"{name} {results[f'{key}_{name}_cpu_ms_per_doc']}" for name in ("gateway", "worker", "simulator")))
        return results
    finally:
        for proc in reversed(procs):
            stop_process(proc)
        engine.dispose()
        if args.postgres:
            from lgsp.testing.postgres import drop_database

            drop_database(db_url)


def main() -> None:
    parser = argparse.ArgumentParser(description="documents/s end to end, and edXML parse+validate vs bare lxml")
    parser.add_argument("--small", type=int, default=200, help="50 KB packets to send")
    parser.add_argument("--large", type=int, default=12, help="5 MB packets to send")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--huge", type=int, default=1, help="1: also carry one 50 MB attachment out and in, "
                        "reporting peak RSS per process (0: skip)")
    parser.add_argument("--repeat", type=int, default=9, help="parse measurement repetitions")
    parser.add_argument("--postgres", action="store_true", help="store on the PostgreSQL at 127.0.0.1:5432")
    args = parser.parse_args()
    e2e = run(args)
    parse_rows = [measure(label, data, args.repeat) for label, data in build_packets(random.Random(20261126)).items()]
    print(f"{'packet':>7} {'edXML ms/MB':>12} {'lxml ms/MB':>11} {'ratio':>6}")
    for r in parse_rows:
        print(f"{r.packet:>7} {r.edxml_s * 1000 / r.mb:>12.2f} {r.bare_s * 1000 / r.mb:>11.2f} {r.ratio:>6.3f}")
    print("docs/s = accepted AND delivered to the axis simulator per second (gateway, worker, simulator: 3 processes)")
    print("ratio = edXML parse+validate throughput / bare lxml.etree.fromstring throughput (geometric mean)")
    headline = math.exp(sum(math.log(r.ratio) for r in parse_rows) / len(parse_rows))
    summary: dict[str, object] = {"benchmark": "documents", "ratio": round(headline, 4),
                                  "store": "postgresql" if args.postgres else "sqlite", **e2e}
    for r in parse_rows:
        key = r.packet.replace(" ", "").lower()
        summary[f"{key}_edxml_ms_per_mb"] = round(r.edxml_s * 1000 / r.mb, 3)
        summary[f"{key}_bare_ms_per_mb"] = round(r.bare_s * 1000 / r.mb, 3)
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
