"""The buffered JSON-lines logger at interpreter exit (lgsp.logs.BufferedLineLogger)."""

from __future__ import annotations

import io
import subprocess
import sys

from lgsp.logs import BufferedLineLogger


def test_the_exit_flush_writes_what_is_buffered() -> None:
    stream = io.StringIO()
    logger = BufferedLineLogger(stream)
    logger.msg('{"event": "last words"}')
    logger.flush_at_exit()
    assert stream.getvalue() == '{"event": "last words"}\n'


def test_a_stream_closed_before_exit_costs_no_traceback() -> None:
    """Seen at the end of a CI run: the atexit flush into pytest's closed capture printed
    'Exception ignored in atexit callback ... ValueError: I/O operation on closed file'."""
    program = ("import io; from lgsp.logs import BufferedLineLogger; s = io.StringIO(); "
               "log = BufferedLineLogger(s); log.msg('{}'); s.close()")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
