"""Shared benchmark plumbing: start servers as subprocesses, drive them with wrk, parse the figures.

wrk (Debian package `wrk`) is the load generator when present: it costs far less CPU than a Python
client, which matters on a 2-core machine where generator, proxy and provider share the cores. Without
wrk a small aiohttp load generator is used, and the output says so.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass
class LoadResult:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    tool: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(args: list[str], cpus: str | None) -> list[str]:
    """``args`` under ``taskset -c cpus`` (when a CPU list is given and taskset exists)."""
    if cpus is None or not shutil.which("taskset"):
        return args
    return ["taskset", "-c", cpus, *args]


def group_cpu_seconds(pgid: int) -> float:
    """user+sys CPU seconds of every live process in process group ``pgid`` (from /proc/<pid>/stat).

    Servers are started in their own session (``start_process``), so the group is the server and its workers;
    take the difference of two readings around a load to get the CPU the load cost the server.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state); pgrp is field 5, utime 14, stime 15
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def start_process(args: list[str], env: dict[str, str] | None = None, ready_url: str | None = None,
                  timeout: float = 30, cwd: str | None = None) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(args, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True, cwd=cwd)
    if ready_url:
        wait_ready(ready_url, timeout, proc)
    return proc


def wait_ready(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process {proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except Exception:
            time.sleep(0.1)
    raise TimeoutError(f"{url} not ready after {timeout}s")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    import signal

    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(proc.pid, signal.SIGKILL)


def uvicorn_cmd(app: str, port: int, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop",
            "--http", "httptools", "--no-access-log", "--log-level", "warning", "--workers", str(workers)]


def _ms(value: str) -> float:
    match = re.match(r"([\d.]+)([a-z]+)", value)
    if match is None:
        raise RuntimeError(f"unexpected wrk latency {value!r}")
    number, unit = match.groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def load(url: str, *, seconds: float, connections: int, headers: dict[str, str] | None = None,
         tool: str = "auto", cpus: str | None = None) -> LoadResult:
    """Drive ``url``: wrk (one thread) when ``tool`` is wrk, or auto and wrk is installed; else aiohttp.

    ``cpus`` pins wrk (taskset) to those cores; the Python generator runs in this process, which the caller
    pins (``os.sched_setaffinity``) if it wants to.
    """
    if tool == "wrk" or (tool == "auto" and shutil.which("wrk")):
        return _wrk(url, seconds, connections, headers or {}, cpus)
    return asyncio.run(_python_load(url, seconds, connections, headers or {}))


def _wrk(url: str, seconds: float, connections: int, headers: dict[str, str], cpus: str | None = None) -> LoadResult:
    duration = f"{max(1, round(seconds))}s"  # wrk takes whole seconds only
    args = [*pinned([], cpus), "wrk", "-t", "1", "-c", str(connections), "-d", duration, "--latency",
            "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Requests/sec" not in out or "99%" not in out:
        raise RuntimeError(f"unexpected wrk output for {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(g) for g in match.groups())
    return LoadResult(rps, p50, p99, total, errors, "wrk")


async def _python_load(url: str, seconds: float, connections: int, headers: dict[str, str]) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status >= 400:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(connections)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(len(latencies) / elapsed, latencies[len(latencies) // 2] * 1000,
                      latencies[int(len(latencies) * 0.99)] * 1000, len(latencies), errors, "python-aiohttp")


def summary_table(rows: list[tuple[str, LoadResult]], baseline: LoadResult) -> str:
    lines = [f"{'target':<34} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs ceiling':>10}"]
    for name, result in rows:
        lines.append(f"{name:<34} {result.rps:>10.0f} {result.p50_ms:>8.2f} {result.p99_ms:>8.2f} "
                     f"{result.errors:>7} {result.rps / baseline.rps:>10.2f}")
    return "\n".join(lines)


def as_dict(result: LoadResult) -> dict[str, Any]:
    return {"rps": round(result.rps, 1), "p50_ms": round(result.p50_ms, 3), "p99_ms": round(result.p99_ms, 3),
            "errors": result.errors}


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, printed beside every figure (a shared machine's noise)."""
    try:
        with open("/proc/loadavg", encoding="ascii") as loadavg:
            return " ".join(loadavg.read().split()[:3])
    except OSError:
        return "?"
