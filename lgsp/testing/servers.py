"""Run an ASGI app as a real HTTP server on 127.0.0.1 in a background thread.

Tests, the demo and benchmarks need real sockets (no mocked HTTP). Binding the socket ourselves to
port 0 lets the kernel pick a free port, so parallel test runs never collide.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn


@dataclass
class RunningServer:
    """A server started by :func:`serve_in_thread`; ``url`` has no trailing slash."""

    host: str
    port: int
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)


def bind_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening-ready TCP socket; port 0 asks the kernel for a free one."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def start_server(app: Any, host: str = "127.0.0.1", port: int = 0, **config: Any) -> RunningServer:
    """Start ``app`` on a real socket in a daemon thread and wait until it accepts connections."""
    sock = bind_socket(host, port)
    actual_port = sock.getsockname()[1]
    uv_config = uvicorn.Config(app, log_level=config.pop("log_level", "warning"), lifespan="on", **config)
    server = uvicorn.Server(uv_config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError(f"server for {app!r} exited during start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"server for {app!r} did not start within 15 s")
        time.sleep(0.01)
    return RunningServer(host, actual_port, server, thread)


@contextmanager
def serve_in_thread(app: Any, **config: Any) -> Iterator[RunningServer]:
    """Context manager form of :func:`start_server`; the server stops on exit."""
    running = start_server(app, **config)
    try:
        yield running
    finally:
        running.stop()
