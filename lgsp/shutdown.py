"""Clean shutdown on SIGTERM/SIGINT for every long-running lgsp process (serve, worker, pollers, simulators).

Why: a supervisor (systemd, Kubernetes, a test harness) may send SIGTERM at any moment — also while the
process is still importing, migrating the store or starting uvicorn. Python's default is to die by the
signal (exit status -15), which supervisors and CI count as a failure, and which skips releasing the
leases of in-flight deliveries. So :func:`install` is the *first* statement of every entry point (this
module imports nothing heavy): from then on a signal only records the request and wakes whoever
registered with :func:`on_request`; the process finishes or releases what it holds and exits 0.

The window before :func:`install` (the interpreter's own start-up) cannot be covered by a handler. A
supervisor that must be safe there too starts lgsp with SIGTERM/SIGINT *blocked* (``preexec_fn``, or
systemd's behaviour of treating SIGTERM as a clean exit): :func:`install` unblocks them only after the
handler is in place, so a signal sent during start-up stays pending and is then handled like any other.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import asyncio

SIGNALS = (signal.SIGTERM, signal.SIGINT)

_requested = threading.Event()
_lock = threading.Lock()
_callbacks: list[Callable[[], None]] = []
_installed = False


def _handle(signum: int, frame: FrameType | None) -> None:
    request()


def request() -> None:
    """Ask the process to stop (what the signal handler does); safe from any thread."""
    _requested.set()
    with _lock:
        callbacks = list(_callbacks)
    for callback in callbacks:
        try:
            callback()
        except Exception:  # noqa: S110 - a dead loop's callback must not keep the others from running
            pass


def install() -> None:
    """Handle SIGTERM/SIGINT from now on (main thread only; idempotent), then unblock them."""
    global _installed
    if threading.current_thread() is not threading.main_thread():
        return
    for sig in SIGNALS:
        signal.signal(sig, _handle)
    _installed = True
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)  # a signal held pending since exec arrives now


def installed() -> bool:
    return _installed


def requested() -> bool:
    return _requested.is_set()


def wait(timeout: float | None = None) -> bool:
    """Sleep until a stop was requested or ``timeout`` passed; returns whether it was requested."""
    return _requested.wait(timeout)


def on_request(callback: Callable[[], None]) -> Callable[[], None]:
    """Call ``callback`` when a stop is requested (at once if it already was); returns an unsubscriber."""
    with _lock:
        _callbacks.append(callback)
    if _requested.is_set():
        callback()

    def unsubscribe() -> None:
        with _lock:
            if callback in _callbacks:
                _callbacks.remove(callback)

    return unsubscribe


def async_event(also: asyncio.Event | None = None) -> tuple[asyncio.Event, Callable[[], None]]:
    """An event of the running loop that is set when a stop is requested (from any thread).

    Returns the event and an unsubscriber; ``also`` lets a caller pass an event of its own to be set.
    """
    import asyncio  # only the async callers need it; every entry point imports this module first

    loop = asyncio.get_running_loop()
    event = also or asyncio.Event()

    def wake() -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(event.set)

    return event, on_request(wake)


def reset_for_tests() -> None:
    """Forget an earlier request (in-process tests only)."""
    _requested.clear()


def blocked_at_spawn() -> None:
    """``preexec_fn`` for a child that must handle SIGTERM from its first instruction (tests, supervisors)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)


__all__ = ["SIGNALS", "async_event", "blocked_at_spawn", "install", "installed", "on_request", "request",
           "requested", "reset_for_tests", "wait"]
