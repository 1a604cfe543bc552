"""Structured JSON logs (structlog): one line per exchange, keyed by message id.

Lines are written in batches: a write+flush system call per request cost the gateway about a tenth of
its throughput, so rendered lines collect in memory and a daemon thread writes them out every 200 ms
(or at once when 64 KiB are waiting, and at exit). Access logs are operational; the durable record of
every exchange is the audit log, which is committed before the caller is answered.
"""

from __future__ import annotations

import atexit
import logging
import sys
import threading
from typing import Any, TextIO

import structlog

FLUSH_SECONDS = 0.2
FLUSH_BYTES = 64 * 1024


class BufferedLineLogger:
    """A structlog logger that appends rendered lines to a buffer written out by a background thread."""

    def __init__(self, file: TextIO) -> None:
        self._file = file
        self._lines: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="lgsp-log-writer", daemon=True).start()
        atexit.register(self.flush)

    def msg(self, message: str) -> None:
        with self._lock:
            self._lines.append(message)
            self._size += len(message) + 1
            full = self._size >= FLUSH_BYTES
        if full:
            self.flush()

    log = debug = info = warn = warning = err = error = critical = exception = failure = fatal = msg

    def flush(self) -> None:
        with self._lock:
            lines, self._lines, self._size = self._lines, [], 0
            if lines:  # written under the lock so lines from two flushes never interleave
                self._file.write("\n".join(lines) + "\n")
                self._file.flush()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            try:
                self.flush()
            except (OSError, ValueError):  # the stream was closed at interpreter exit
                return


class BufferedLoggerFactory:
    def __init__(self, file: TextIO) -> None:
        self._logger = BufferedLineLogger(file)

    def __call__(self, *args: Any) -> BufferedLineLogger:
        return self._logger


def configure(level: str = "INFO") -> None:
    logging.basicConfig(format="%(message)s", stream=sys.stderr, level=getattr(logging, level.upper(), 20))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(ensure_ascii=False),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper(), 20)),
        logger_factory=BufferedLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
