"""A fake Redis server for tests: speaks enough RESP to get past redis-py's handshake, then answers every
counter command (EVALSHA, GET, ZCOUNT) with whatever the test sets: garbage, a wrong shape, a closed
connection. The shared Redis at 127.0.0.1:6379 is never stopped or corrupted for this."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

CLOSE = b""  # reply meaning: drop the connection instead of answering


class _Handler(socketserver.StreamRequestHandler):
    server: _FakeRedis

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line.startswith(b"*"):
                return
            parts = []
            for _ in range(int(line[1:])):
                size = int(self.rfile.readline()[1:])
                parts.append(self.rfile.read(size + 2)[:-2])
            command = parts[0].upper()
            if command == b"HELLO":  # make redis-py fall back to RESP2
                self.wfile.write(b"-ERR unknown command 'HELLO'\r\n")
            elif command == b"SCRIPT":
                self.wfile.write(b"$40\r\n" + b"0" * 40 + b"\r\n")
            elif command in (b"EVALSHA", b"EVAL", b"GET", b"ZCOUNT"):
                if self.server.reply == CLOSE:
                    return
                self.wfile.write(self.server.reply)
            else:
                self.wfile.write(b"+OK\r\n")
            self.wfile.flush()


class _FakeRedis(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    reply: bytes = b"+OK\r\n"


@contextmanager
def fake_redis() -> Iterator[_FakeRedis]:
    server = _FakeRedis(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def url_of(server: _FakeRedis) -> str:
    host, port = server.server_address[:2]
    return f"redis://{host!s}:{port}/0"
