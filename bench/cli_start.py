"""Start-up cost of the `lgsp` command line: `lgsp --help` and `lgsp verify FILE` (a ~20 KB signed edXML).

Issue 12 asks for `lgsp --help` under 0.5 s and `lgsp verify FILE` under 1 s of wall time on this machine,
which the lazy imports (lgsp/cli/lazy.py, lgsp/cli/common.py, signing/__init__.py, signing/api.py) make
possible. Each command runs as a fresh process, best of ``--rounds`` interleaved runs, next to the floor of
any Python command (`python -c pass`) measured in the same run. The verify run uses a real PKI and a real
CRL/OCSP responder on 127.0.0.1, like any first verification of a signer (nothing cached).

Run: ``.venv/bin/python bench/cli_start.py [--rounds 5]``. The last line is JSON; ``ratio`` is the headline:
`lgsp verify` wall time / `python -c pass` wall time (lower is better).
"""

from __future__ import annotations

import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from lgsp.testing.servers import start_server  # noqa: E402
from signing.testing import RevocationResponder, build_pki, edxml_document, sign_xml  # noqa: E402

BIN = Path(sys.executable).parent


def run(argv: list[str], env: dict[str, str], expect: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the child) of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expect:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
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
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update({"LGSP_TRUST_PATHS": str(folder / "root.pem"), "LGSP_CONFIG": "",
                    "PYTHONPYCACHEPREFIX": str(folder / "pycache")})
        cases = {
            "python -c pass": ([sys.executable, "-c", "pass"], 0),
            "lgsp --help": ([str(BIN / "lgsp"), "--help"], 0),
            "lgsp verify FILE": ([str(BIN / "lgsp"), "verify", str(document)], 0),
        }
        for argv, expect in cases.values():  # warm-up: writes the byte-code cache
            run(argv, env, expect)
        best: dict[str, tuple[float, float]] = {}
        for _ in range(args.rounds):  # interleaved, so a burst of outside load hits every case alike
            for name, (argv, expect) in cases.items():
                wall, cpu = run(argv, env, expect)
                if name not in best or wall < best[name][0]:
                    best[name] = (wall, cpu)
    server.stop()
    base = best["python -c pass"][0]
    print(f"{'command':22} {'wall s':>8} {'cpu s':>8} {'vs python -c pass':>18}")
    for name, (wall, cpu) in best.items():
        print(f"{name:22} {wall:8.3f} {cpu:8.3f} {wall / base:17.1f}x")
    print(json.dumps({
        "ratio": round(best["lgsp verify FILE"][0] / base, 2),
        "verify_wall_s": round(best["lgsp verify FILE"][0], 3), "verify_cpu_s": round(best["lgsp verify FILE"][1], 3),
        "help_wall_s": round(best["lgsp --help"][0], 3), "help_cpu_s": round(best["lgsp --help"][1], 3),
        "python_pass_wall_s": round(base, 3), "xml_bytes": xml_bytes,
        "help_under_0_5_s": best["lgsp --help"][0] < 0.5, "verify_under_1_s": best["lgsp verify FILE"][0] < 1.0,
    }))


if __name__ == "__main__":
    main()
