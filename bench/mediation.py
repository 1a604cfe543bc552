"""Benchmark: REST->SOAP mediation overhead and throughput against the NGSP simulator.

Measures, in one run:
- cold: building a SoapService (zeep client + XSD model) per WSDL under schemas/wsdl/;
- warm: JSON->SOAP ``build_request`` and SOAP->JSON ``parse_response`` per call;
- mediated calls/s and p99 through the lgsp gateway (`lgsp serve`: token, grant, mediation, audit row),
  through the mediation library alone (+ aiohttp), and direct calls/s with a prebuilt envelope, all
  against the simulator running in its own process on 127.0.0.1.

The last line is one JSON object; ``ratio`` = gateway-mediated calls/s / direct calls/s (issue 14: >= 0.55).
On a shared machine calls/s follow the neighbours' load, so each run also records the CPU time (user+sys,
from /proc) the gateway, the simulator and this load generator spent per call: ``cpu_ratio`` = CPU per
direct call / CPU per call through lgsp (all processes), which is what ``ratio`` tends to when the three
share the cores and nothing else runs, and ``gateway_cpu_us_per_call`` is lgsp's own share.
Usage: ``.venv/bin/python bench/mediation.py [--duration 3] [--concurrency 16]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from adapters.ngsp.client import NgspClient  # noqa: E402
from lgsp.mediation import SoapService  # noqa: E402
from lgsp.testing.servers import bind_socket  # noqa: E402

OPERATION = "TraCuuDoanhNghiep"
BODY = {"MaSoThue": "1800000018"}
CLIENT_ID = "VN/GOV/000.00.12.H10/MOTCUA"


def cold_builds(repeat: int) -> dict[str, float]:
    """Median milliseconds to build a service from each WSDL, bypassing the cache."""
    out = {}
    for path in sorted((ROOT / "schemas" / "wsdl").rglob("*.wsdl")):
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            SoapService(path)
            times.append((time.perf_counter() - start) * 1000)
        out[str(path.relative_to(ROOT))] = statistics.median(times)
    return out


def warm_per_call(client: NgspClient, response: bytes, n: int) -> tuple[float, float]:
    """Mean microseconds per build_request and per parse_response (after warm-up)."""
    svc = client.service
    headers = client.headers_for(OPERATION)
    for _ in range(50):
        svc.build_request(OPERATION, BODY, headers)
        svc.parse_response(OPERATION, 200, "text/xml", response)
    start = time.perf_counter()
    for _ in range(n):
        svc.build_request(OPERATION, BODY, client.headers_for(OPERATION))
    build = (time.perf_counter() - start) / n * 1e6
    start = time.perf_counter()
    for _ in range(n):
        svc.parse_response(OPERATION, 200, "text/xml; charset=utf-8", response)
    parse = (time.perf_counter() - start) / n * 1e6
    return build, parse


def process_cpu(pid: int) -> float:
    """User+sys CPU seconds of one process (children not included), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def load(
    url: str,
    mode: str,
    client: NgspClient,
    envelope: bytes,
    http_headers: dict[str, str],
    duration: float,
    concurrency: int,
    snapshot: Callable[[], tuple[float, ...]] = tuple,
) -> tuple[tuple[float, float, float], tuple[float, ...]]:
    """Run ``concurrency`` workers for ``duration`` seconds: ((calls/s, p50 ms, p99 ms), CPU used).

    ``snapshot`` reads CPU counters; it is called after the warm-up and at the end, and the difference is
    returned, so a first call's one-off costs (imports, building the SoapService) are not counted.
    """
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:
        client._session = session  # share the pool; the bench owns its lifetime
        client._own_session = False

        async def one() -> None:
            if mode == "direct":
                async with session.post(url, data=envelope, headers=http_headers) as resp:
                    await resp.read()
                    assert resp.status == 200
            elif mode == "gateway":
                async with session.post(url, json=BODY, headers=http_headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
            else:
                await client.call(OPERATION, BODY)

        stop = time.perf_counter() + 0.3
        while time.perf_counter() < stop:  # warm-up: connections, caches
            await asyncio.gather(*(one() for _ in range(concurrency)))

        end = time.perf_counter() + duration

        async def worker() -> None:
            while time.perf_counter() < end:
                t0 = time.perf_counter()
                await one()
                latencies.append(time.perf_counter() - t0)

        before = snapshot()
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - start
        used = tuple(b - a for a, b in zip(before, snapshot(), strict=True))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return (len(latencies) / elapsed, statistics.median(latencies) * 1000, p99), used


def start_simulator() -> tuple[subprocess.Popen[bytes], str]:
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([sys.executable, "-m", "adapters.ngsp.simulator", "--port", str(port)], cwd=ROOT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 20
    import urllib.request

    while True:
        try:
            urllib.request.urlopen(url + "health", timeout=1).read()
            return proc, url
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("simulator did not start") from None
            time.sleep(0.1)


@dataclass
class Results:
    cold_ms: dict[str, float]
    build_us: float
    parse_us: float
    direct: tuple[float, float, float]  # calls/s, p50 ms, p99 ms
    mediated: tuple[float, float, float]
    gateway: tuple[float, float, float]
    cpu_us: dict[str, dict[str, float]]  # mode -> {"gateway", "simulator", "loadgen"} CPU µs per call (median)


GATEWAY_REGISTRY = """
agencies: [{{code: 000.00.12.H10, name: UBND}}, {{code: 000.00.00.G22, name: NGSP}}]
systems:
  - {{id: 000.00.12.H10/MOTCUA, name: Một cửa}}
  - {{id: 000.00.00.G22/NGSP, name: NGSP, client: false, provider: true}}
services:
  - {{id: 000.00.00.G22/NGSP/csdl, name: CSDL, kind: soap, base_url: "{url}", wsdl_path: wsdl/ngsp/ngsp.wsdl,
      retry_attempts: 0}}
grants:
  - {{client: 000.00.12.H10/MOTCUA, service: 000.00.00.G22/NGSP/csdl, methods: [POST]}}
"""


def start_gateway(simulator_url: str, workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`lgsp serve` on SQLite with the simulator registered as a SOAP service; returns (proc, url, token)."""
    import base64
    import urllib.request

    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{workdir / 'mediation.db'}"}
    lgsp = [sys.executable, "-m", "lgsp.cli"]
    (workdir / "registry.yaml").write_text(GATEWAY_REGISTRY.format(url=simulator_url.rstrip("/")), encoding="utf-8")
    subprocess.run([*lgsp, "apply", str(workdir / "registry.yaml")], env=env, check=True, capture_output=True)
    created = subprocess.run([*lgsp, "clients", "create", "--system", "000.00.12.H10/MOTCUA", "--json"], env=env,
                             check=True, capture_output=True, text=True).stdout
    cred = json.loads(created)
    sock = bind_socket()
    port = sock.getsockname()[1]
    sock.close()
    proc = subprocess.Popen([*lgsp, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/healthz", timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("lgsp serve did not start") from None
            time.sleep(0.2)
    basic = base64.b64encode(f"{cred['client_id']}:{cred['client_secret']}".encode()).decode()
    request = urllib.request.Request(base + "/oauth/token", data=b"grant_type=client_credentials",
                                     headers={"Authorization": f"Basic {basic}",
                                              "Content-Type": "application/x-www-form-urlencoded"})
    token = json.loads(urllib.request.urlopen(request).read())["access_token"]
    return proc, f"{base}/services/000.00.00.G22/NGSP/csdl/{OPERATION}", token


async def main_async(args: argparse.Namespace) -> Results:
    import tempfile

    proc, url = start_simulator()
    workdir = Path(tempfile.mkdtemp(prefix="lgsp-bench-mediation-"))
    gateway, gateway_url, token = start_gateway(url, workdir)
    try:
        client = NgspClient(url, CLIENT_ID)
        envelope, http_headers = client.service.build_request(OPERATION, BODY, client.headers_for(OPERATION))
        async with aiohttp.ClientSession() as session, session.post(url, data=envelope, headers=http_headers) as resp:
            response = await resp.read()
        build_us, parse_us = warm_per_call(client, response, args.calls)
        runs: dict[str, list[tuple[float, float, float]]] = {"direct": [], "mediated": [], "gateway": []}
        cpu: dict[str, dict[str, list[float]]] = {m: {"gateway": [], "simulator": [], "loadgen": []} for m in runs}
        gateway_headers = {"Authorization": f"Bearer {token}"}

        def snapshot() -> tuple[float, float, float]:
            return process_cpu(gateway.pid), process_cpu(proc.pid), self_cpu()

        for _ in range(args.rounds):  # interleave so drift affects every mode alike
            for mode in ("direct", "mediated", "gateway"):
                target, headers = (gateway_url, gateway_headers) if mode == "gateway" else (url, http_headers)
                result, used = await load(target, mode, client, envelope, headers, args.duration,
                                          args.concurrency, snapshot)
                calls = max(result[0] * args.duration, 1)
                for key, seconds in zip(("gateway", "simulator", "loadgen"), used, strict=True):
                    cpu[mode][key].append(seconds / calls * 1e6)
                runs[mode].append(result)
    finally:
        for process in (gateway, proc):
            process.terminate()
            process.wait(10)
    cpu_us = {mode: {k: statistics.median(v) for k, v in parts.items()} for mode, parts in cpu.items()}
    return Results(cold_builds(args.cold_repeat), build_us, parse_us, max(runs["direct"]), max(runs["mediated"]),
                   max(runs["gateway"]), cpu_us)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds per throughput run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved direct/mediated rounds (best kept)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--calls", type=int, default=2000, help="calls for the warm per-call figures")
    parser.add_argument("--cold-repeat", type=int, default=5)
    args = parser.parse_args()
    r = asyncio.run(main_async(args))
    ratio = r.gateway[0] / r.direct[0]
    direct_cpu = r.cpu_us["direct"]["simulator"] + r.cpu_us["direct"]["loadgen"]
    cpu_ratio = direct_cpu / sum(r.cpu_us["gateway"].values())
    rows: list[tuple[str, str]] = [(f"cold build {wsdl} (ms)", f"{ms:.1f}") for wsdl, ms in r.cold_ms.items()]
    rows += [
        ("warm build_request JSON->SOAP (us/call)", f"{r.build_us:.0f}"),
        ("warm parse_response SOAP->JSON (us/call)", f"{r.parse_us:.0f}"),
        ("direct calls/s (prebuilt envelope)", f"{r.direct[0]:.0f}"),
        ("direct p50 / p99 (ms)", f"{r.direct[1]:.2f} / {r.direct[2]:.2f}"),
        ("mediated calls/s (mediation library + aiohttp)", f"{r.mediated[0]:.0f}"),
        ("mediated p50 / p99 (ms)", f"{r.mediated[1]:.2f} / {r.mediated[2]:.2f}"),
        ("through lgsp calls/s (token, grant, mediation, audit)", f"{r.gateway[0]:.0f}"),
        ("through lgsp p50 / p99 (ms)", f"{r.gateway[1]:.2f} / {r.gateway[2]:.2f}"),
        ("ratio through-lgsp/direct (target >= 0.55)", f"{ratio:.2f}"),
        ("CPU us/call direct: simulator + load generator",
         f"{r.cpu_us['direct']['simulator']:.0f} + {r.cpu_us['direct']['loadgen']:.0f}"),
        ("CPU us/call through lgsp: lgsp + sim + loadgen",
         f"{r.cpu_us['gateway']['gateway']:.0f} + {r.cpu_us['gateway']['simulator']:.0f} + "
         f"{r.cpu_us['gateway']['loadgen']:.0f}"),
        ("cpu_ratio (CPU per direct call / per lgsp call)", f"{cpu_ratio:.2f}"),
    ]
    print(f"{'measure':<52} {'value':>15}")
    print("-" * 68)
    for name, value in rows:
        print(f"{name:<52} {value:>15}")
    figures = {
        "ratio": round(ratio, 3),
        "cpu_ratio": round(cpu_ratio, 3),
        "gateway_cpu_us_per_call": round(r.cpu_us["gateway"]["gateway"], 1),
        "cpu_us_per_call": {m: {k: round(v, 1) for k, v in parts.items()} for m, parts in r.cpu_us.items()},
        "gateway_mediated_calls_per_s": round(r.gateway[0], 1),
        "gateway_mediated_p99_ms": round(r.gateway[2], 2),
        "library_vs_direct_ratio": round(r.mediated[0] / r.direct[0], 3),
        "mediated_calls_per_s": round(r.mediated[0], 1),
        "direct_calls_per_s": round(r.direct[0], 1),
        "mediated_p99_ms": round(r.mediated[2], 2),
        "direct_p99_ms": round(r.direct[2], 2),
        "build_request_us": round(r.build_us, 1),
        "parse_response_us": round(r.parse_us, 1),
        "cold_build_ms": {k: round(v, 1) for k, v in r.cold_ms.items()},
        "concurrency": args.concurrency,
        "cpus": os.cpu_count(),
        "duration_s": args.duration,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
