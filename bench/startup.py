"""Start-up cost of lgsp's commands: `lgsp --help`, `lgsp verify FILE` and `lgsp serve` until `/readyz` is 200.

Issues 12 and 18 set the targets on this machine: `lgsp --help` < 0.5 s wall, `lgsp verify` of a ~20 KB signed
edXML < 1 s, `lgsp serve` on SQLite ready (`/readyz` 200) < 2 s after the process starts. Each figure is the
median of ``--runs`` fresh processes, the cases interleaved so a burst of outside load (the machine's two
cores are shared) hits every case alike; the load average is printed next to each round and the figures.

The verify run uses the repository's test PKI (signing/testing.py) with a real CRL/OCSP responder on
127.0.0.1, like any first verification of a signer (nothing cached). The serve runs share one SQLite file
and the same trust anchors (so the gateway builds its signature verifier, as in production): the first start
creates and migrates the store (reported apart), the others are restarts of a store at head.
Then each command runs once more under ``-X importtime`` (PYTHONPROFILEIMPORTTIME) and the ten heaviest
imports are listed: self time summed per package (a third-party distribution, or the first two name parts of
our own packages), so the list says which library a command pays for.

Run: ``.venv/bin/python bench/startup.py [--runs 5] [--top 10]``. The last line is JSON.
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import collections  # noqa: E402
import http.client  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from lgsp.testing.servers import start_server  # noqa: E402
from signing.testing import RevocationResponder, build_pki, edxml_document, sign_xml  # noqa: E402

BIN = Path(sys.executable).parent
LGSP = str(BIN / "lgsp")
OURS = frozenset({"lgsp", "adapters", "registry", "signing"})
TARGETS = {"lgsp --help": 0.5, "lgsp verify FILE": 1.0, "lgsp serve → /readyz": 2.0}
READY_TIMEOUT_S = 60.0


@dataclass
class Sample:
    wall: float
    cpu: float
    stderr: str = ""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_command(argv: list[str], env: dict[str, str], expect: int) -> Sample:
    """Wall and CPU seconds of one fresh process run to its end."""
    cpu = child_cpu()
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    if done.returncode != expect:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-800:]}")
    return Sample(wall, child_cpu() - cpu, done.stderr.decode(errors="replace"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ready(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/readyz")
        status = connection.getresponse().status
        connection.close()
    except OSError:
        return False
    return status == 200


def run_serve(env: dict[str, str]) -> Sample:
    """Seconds from spawning `lgsp serve` to the first `/readyz` 200; the server is then stopped by SIGTERM."""
    port = free_port()
    cpu = child_cpu()
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: -X importtime output would fill a pipe
        start = time.perf_counter()
        process = subprocess.Popen([LGSP, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                   stderr=errors)
        try:
            while not (up := ready(port)):
                if process.poll() is not None or time.perf_counter() - start > READY_TIMEOUT_S:
                    break
                time.sleep(0.005)
            wall = time.perf_counter() - start
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
        errors.seek(0)
        stderr = errors.read()
    if not up or process.returncode != 0:
        raise SystemExit(f"lgsp serve {'ready' if up else 'never ready'}, exited {process.returncode} after "
                         f"{wall:.1f} s: {stderr.decode(errors='replace')[-800:]}")
    return Sample(wall, child_cpu() - cpu, stderr.decode(errors="replace"))


def heaviest(importtime: str, top: int) -> list[tuple[str, float]]:
    """Self import time (ms) summed per package, heaviest first, from ``-X importtime`` output."""
    per_package: collections.Counter[str] = collections.Counter()
    for line in importtime.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[len("import time:"):].split("|"))
        if not self_us.isdigit():  # the header line
            continue
        parts = name.split(".")
        package = ".".join(parts[:2]) if parts[0] in OURS else parts[0]
        per_package[package] += int(self_us) / 1000
    return per_package.most_common(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh processes per figure (median)")
    parser.add_argument("--top", type=int, default=10, help="heaviest imports listed per command")
    args = parser.parse_args()

    responder = RevocationResponder()
    server = start_server(responder)
    pki = build_pki(server.url)
    responder.pki = pki
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "root.pem").write_bytes(pki.root_pem)
        document = folder / "cong-van.edxml"
        document.write_bytes(sign_xml(edxml_document(filler_bytes=18_000), pki.good))
        xml_bytes = document.stat().st_size
        # Measure an installed command: byte-code cached (this sandbox sets PYTHONDONTWRITEBYTECODE, which
        # would make every start recompile every module); the cache goes to a temporary prefix.
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPROFILEIMPORTTIME")}
        env.update({"LGSP_TRUST_PATHS": str(folder / "root.pem"), "LGSP_CONFIG": "",
                    "PYTHONPYCACHEPREFIX": str(folder / "pycache"),
                    "LGSP_DATABASE_URL": f"sqlite:///{folder / 'lgsp.db'}",
                    "LGSP_AUDIT_LOG_KEY_FILE": str(folder / "audit-log-key.pem"),
                    "LGSP_KEY_KEK_FILE": str(folder / "kek.key"), "LGSP_LOG_LEVEL": "WARNING"})
        cases: dict[str, Callable[[dict[str, str]], Sample]] = {
            "python -c pass": lambda e: run_command([sys.executable, "-c", "pass"], e, 0),
            "lgsp --help": lambda e: run_command([LGSP, "--help"], e, 0),
            "lgsp verify FILE": lambda e: run_command([LGSP, "verify", str(document)], e, 0),
            "lgsp serve → /readyz": run_serve,
        }
        first_start = run_serve(env)  # creates and migrates the SQLite store (and writes the byte-code cache)
        for case in cases.values():  # warm-up
            case(env)
        samples: dict[str, list[Sample]] = {name: [] for name in cases}
        loads = [load()]
        for round_number in range(args.runs):
            for name, case in cases.items():
                samples[name].append(case(env))
            loads.append(load())
            print(f"round {round_number + 1}/{args.runs}: load average {loads[-1]}", file=sys.stderr)
        profile_env = env | {"PYTHONPROFILEIMPORTTIME": "1"}
        imports = {name: heaviest(cases[name](profile_env).stderr, args.top)
                   for name in cases if name != "python -c pass"}
    server.stop()

    median = {name: statistics.median(s.wall for s in runs) for name, runs in samples.items()}
    median_cpu = {name: statistics.median(s.cpu for s in runs) for name, runs in samples.items()}
    print(f"\nmedian of {args.runs} fresh processes; load average (1/5/15 min) before: {loads[0]}, "
          f"after: {loads[-1]} (2 shared cores)")
    print(f"{'command':24} {'wall s':>7} {'cpu s':>7} {'min..max wall':>15} {'target':>7}")
    for name, runs in samples.items():
        walls = [s.wall for s in runs]
        target = TARGETS.get(name)
        verdict = "" if target is None else f"< {target:.1f} {'ok' if median[name] < target else 'MISSED'}"
        print(f"{name:24} {median[name]:7.3f} {median_cpu[name]:7.3f} {min(walls):7.3f}..{max(walls):<7.3f} "
              f"{verdict}")
    print(f"{'serve, first start':24} {first_start.wall:7.3f} {first_start.cpu:7.3f}   (creates + migrates "
          "the SQLite store)")
    for name, rows in imports.items():
        print(f"\nheaviest imports of `{name}` (self ms summed per package, one -X importtime run):")
        for package, ms in rows:
            print(f"  {ms:8.1f}  {package}")
    # headline: the tightest of the three budgets, target / measured (>= 1 means every target is met)
    ratio = min(target / median[name] for name, target in TARGETS.items())
    print(f"ratio {ratio:.2f} (tightest target / median wall time over the three commands; >= 1: all met)")
    print(json.dumps({
        "ratio": round(ratio, 3), "runs": args.runs, "load_before": loads[0], "load_after": loads[-1],
        "xml_bytes": xml_bytes,
        "python_pass_wall_s": round(median["python -c pass"], 3),
        "help_wall_s": round(median["lgsp --help"], 3), "verify_wall_s": round(median["lgsp verify FILE"], 3),
        "serve_ready_wall_s": round(median["lgsp serve → /readyz"], 3),
        "serve_first_start_wall_s": round(first_start.wall, 3),
        "targets_met": all(median[name] < target for name, target in TARGETS.items()),
    }, ensure_ascii=False))


if __name__ == "__main__":
    main()
