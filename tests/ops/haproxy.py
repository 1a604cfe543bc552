"""HAProxy (Debian's package, installed by scripts/ensure-haproxy.sh) run in the foreground for a test.

Readiness is read from HAProxy's own admin socket (``show stat``), so a test waits for a health state
(a backend server UP or DOWN as HAProxy's checks see it), never for a fixed time.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lgsp.testing.postgres import missing_service


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class HAProxy:
    process: subprocess.Popen[bytes]
    admin_socket: Path
    log: Path

    def command(self, line: str) -> str:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.admin_socket))
            sock.sendall(line.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def server_states(self, backend: str) -> dict[str, str]:
        """server name -> status ("UP", "DOWN", "UP 1/2", ...) as HAProxy's health checks see it."""
        lines = self.command("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            row = dict(zip(header, line.split(","), strict=False))
            if row.get("pxname") == backend and row.get("svname") not in {"FRONTEND", "BACKEND", None}:
                states[row["svname"]] = row["status"]
        return states

    def wait_for(self, backend: str, wanted: dict[str, str], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        states: dict[str, str] = {}
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"haproxy exited ({self.process.returncode}):\n{self.log.read_text()}")
            try:
                states = self.server_states(backend)
            except OSError:
                states = {}
            if all(states.get(name) == state for name, state in wanted.items()):
                return
            time.sleep(0.05)  # polling a state, not waiting out a race
        raise AssertionError(f"haproxy backend {backend} never reached {wanted}: {states}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_haproxy(config: str, directory: Path) -> HAProxy:
    """Write ``config`` (its ``stats socket`` must be ``{admin}``) and run haproxy in the foreground."""
    binary = shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)
    if binary is None:
        missing_service("haproxy is not installed (scripts/ensure-haproxy.sh installs Debian's package)")
    assert binary is not None
    admin = directory / "haproxy.sock"
    path = directory / "haproxy.cfg"
    path.write_text(config.replace("{admin}", str(admin)), encoding="utf-8")
    check = subprocess.run([binary, "-c", "-f", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, f"haproxy config invalid:\n{check.stdout}{check.stderr}\n{path.read_text()}"
    log = directory / "haproxy.log"
    with open(log, "wb") as out:
        process = subprocess.Popen([binary, "-db", "-f", str(path)], stdout=out, stderr=subprocess.STDOUT)
    proxy = HAProxy(process, admin, log)
    deadline = time.monotonic() + 20
    while not admin.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"haproxy did not start:\n{log.read_text()}")
        time.sleep(0.05)
    return proxy
