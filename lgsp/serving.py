"""Running uvicorn so that SIGTERM at any moment ends in a clean exit 0 (the gateway and the simulators).

uvicorn installs its own handlers only once its server (or multi-process supervisor) starts, and a
single server re-raises the captured signal after its graceful shutdown with the *previous* handler
back in place — with Python's default that kills the process by SIGTERM (-15) after all. Here the
previous handler is :mod:`lgsp.shutdown`'s (installed first thing by the entry point), so the re-raise
is harmless, and a stop requested before uvicorn took the signals over is handed to it as well.
"""

from __future__ import annotations

import resource
import socket
from typing import Any

from lgsp import shutdown

#: Above this many descriptors a process is better capped by its unit file than by what the kernel allows.
OPEN_FILES_CEILING = 1 << 20


def raise_open_file_limit() -> tuple[int, int]:
    """Lift this process's soft limit on open files to its hard limit; returns (before, after).

    Each proxied call holds two descriptors (the caller's and the provider's), plus the store's. systemd gives
    a service a soft limit of 1,024 (with a hard limit of 524,288), so about 500 concurrent calls use it up.
    Past it accept() fails with EMFILE: new callers are dropped without an answer, and the store cannot
    open its file (measured with a soft limit of 128: 291 of 400 simultaneous callers got no answer).
    Going up to the hard limit is what Go's runtime does at start; an operator who wants less sets
    ``LimitNOFILE=`` in the unit, which lowers the hard limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = OPEN_FILES_CEILING if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_CEILING)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):  # a container that forbids it: keep what we have
            return soft, soft
        return soft, target
    return soft, soft


def server_options(*, tls: bool = False) -> dict[str, Any]:
    """uvicorn settings for every HTTP server lgsp starts (``lgsp serve``, ``lgsp demo``'s gateway,
    ``lgsp witness serve``): the same request deadlines and head limit (:mod:`lgsp.gateway.deadlines`), and
    uvicorn's own proxy-header handling off, since :class:`lgsp.gateway.client_certs.PeerRecorder` does it
    after recording the TCP peer. A server that ran without them would be the one anybody could hold open
    a byte a second.

    Both protocols write a response's head and body in one system call (lgsp.gateway.coalesce); the TLS one
    also puts the client certificate into each request's scope, which on plain HTTP would be a Python call
    for nothing."""
    from lgsp.gateway.deadlines import RequestDeadlineProtocol
    from lgsp.gateway.tls_protocol import TLSHttpToolsProtocol

    protocol: type[RequestDeadlineProtocol] = TLSHttpToolsProtocol if tls else RequestDeadlineProtocol
    return {"loop": "uvloop", "http": protocol, "access_log": False, "log_level": "warning",
            "proxy_headers": False, "server_header": True, "date_header": True}


def run_uvicorn(config: Any, sockets: list[socket.socket] | None = None) -> None:
    """Serve ``config`` (a ``uvicorn.Config``) until a stop is requested; returns normally."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    shutdown.install()
    if config.workers > 1:
        sock = sockets[0] if sockets else config.bind_socket()
        supervisor = Multiprocess(config, sockets=[sock])  # takes the signals over from here on
        unsubscribe = shutdown.on_request(supervisor.should_exit.set)
        try:
            supervisor.run()
        finally:
            unsubscribe()
        return
    server = uvicorn.Server(config)
    unsubscribe = shutdown.on_request(lambda: setattr(server, "should_exit", True))
    try:
        server.run(sockets=sockets)
    finally:
        unsubscribe()
        shutdown.install()  # uvicorn restored the handler it found; keep ours whatever that was


__all__ = ["raise_open_file_limit", "run_uvicorn", "server_options"]
