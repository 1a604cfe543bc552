"""`lgsp serve` answers 408 to a connection that does not send a whole request head in time (slowloris),
or sends its body too slowly (slow POST).

Before, uvicorn timed only the pause between requests: an idle connection, or one sending its head a byte
at a time, was held for ever (measured: still open after 40 s), so enough of them used up the process's
file descriptors; so was a body sent a byte a second. Run against the real `lgsp serve` process, with the
head deadline set to 1 s and the body's minimum rate to 100 B/s over 1 s windows (the settings' way in:
the protocol's own behaviour is tested in test_slow_bodies.py).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.security.rawhttp import read_until_close

LGSP = [sys.executable, "-m", "lgsp.cli"]
DEADLINE = 1.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    folder = tmp_path_factory.mktemp("slow-heads")
    env = {**os.environ, "LGSP_DATABASE_URL": f"sqlite:///{folder / 'lgsp.db'}",
           "LGSP_HEADER_TIMEOUT_SECONDS": str(DEADLINE),
           "LGSP_BODY_TIMEOUT_SECONDS": str(DEADLINE), "LGSP_BODY_MIN_RATE": "100"}
    port = _free_port()
    with open(folder / "serve.log", "w") as log:
        server = subprocess.Popen([*LGSP, "serve", "--port", str(port)], env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        ready = time.monotonic() + 90
        while time.monotonic() < ready:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            pytest.fail("lgsp serve did not start: " + (folder / "serve.log").read_text())
        yield "127.0.0.1", port
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(20)




def _assert_408(answer: bytes) -> None:
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"application/problem+json" in head
    assert json.loads(body)["status"] == 408


def test_an_idle_connection_is_answered_408_and_closed(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=15) as sock:
        _assert_408(read_until_close(sock))


def test_a_head_sent_a_byte_at_a_time_does_not_hold_the_connection(address: tuple[str, int]) -> None:
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    with socket.create_connection(address, timeout=15) as sock:
        started = time.monotonic()
        for byte in head:  # 0.1 s a byte: 10 s in all, far past the deadline; every byte is "progress"
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # closed under us: what we want
            time.sleep(0.1)
            if time.monotonic() - started > 2 * DEADLINE + 3:
                break
        _assert_408(read_until_close(sock))


def test_the_deadline_applies_to_each_request_of_a_kept_alive_connection(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(DEADLINE * 1.5)  # longer than the head deadline, shorter than uvicorn's 5 s keep-alive
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")  # an idle pause between requests is fine
        second = b""
        while b"\r\n\r\n" not in second:
            second += sock.recv(65536)
        assert b"HTTP/1.1 200" in second
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHo")  # the third request's head never ends
        rest = read_until_close(sock)
    _assert_408(rest[rest.index(b"HTTP/1.1 408"):])



def test_a_body_sent_a_byte_at_a_time_is_answered_408(address: tuple[str, int]) -> None:
    """`POST /oauth/token` needs no token, so anyone could hold connections this way."""
    with socket.create_connection(address, timeout=15) as sock:
        sock.sendall(b"POST /oauth/token HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n"
                     b"Content-Type: application/x-www-form-urlencoded\r\n\r\n")
        for _ in range(30):  # 5 B/s for 6 s: far under 100 B/s
            try:
                sock.sendall(b"a")
            except OSError:
                break
            time.sleep(0.2)
        answer = read_until_close(sock)
    _assert_408(answer)
    assert b"body" in answer.partition(b"\r\n\r\n")[2]
