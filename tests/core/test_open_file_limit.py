"""`lgsp serve` lifts its soft limit on open files, so a few hundred callers at once are all answered.

systemd starts a service with a soft limit of 1,024 descriptors (hard 524,288); each proxied call holds two.
Past the soft limit accept() fails with EMFILE: callers are dropped without an answer and the store cannot
open its file. The test starts the real command with a soft limit of 128 (hard 4,096) and opens 400
connections at once: before, most of them were cut off unanswered.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from lgsp.testing.servers import bind_socket
from tests.security.rawhttp import read_until_close

SOFT, HARD = 128, 4096
CONNECTIONS = 400

#: starts `lgsp serve` with the limits a systemd unit would give it (an exec, so the pid is the server's)
LAUNCH = ("import os, resource, sys; resource.setrlimit(resource.RLIMIT_NOFILE, ({soft}, {hard})); "
          "os.execv(sys.executable, [sys.executable, '-m', 'lgsp.cli', 'serve', '--port', '{port}'])")


def _open_files_limit(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-files line in /proc/PID/limits")


def test_serve_answers_more_callers_at_once_than_its_soft_limit_allows(tmp_path: Path) -> None:
    port = bind_socket().getsockname()[1]
    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{tmp_path / 'lgsp.db'}",
           "LGSP_AUDIT_LOG_KEY_FILE": str(tmp_path / "log.key")}
    with (tmp_path / "serve.log").open("w") as log:
        server = subprocess.Popen([sys.executable, "-c", LAUNCH.format(soft=SOFT, hard=HARD, port=port)], env=env,
                                  stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    sockets: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(base + "/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        assert _open_files_limit(server.pid) == (HARD, HARD)
        for _ in range(CONNECTIONS):  # all open at once, then each asks
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=30))
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answers = [read_until_close(sock).split(b"\r\n", 1)[0] for sock in sockets]
        assert answers.count(b"HTTP/1.1 200 OK") == CONNECTIONS, {a: answers.count(a) for a in set(answers)}
    finally:
        for sock in sockets:
            sock.close()
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)
