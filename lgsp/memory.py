"""Giving memory back to the system after a large request (issue 19.3: "returned after the request").

A 9 MB signed edXML packet costs ~50 MB at its peak (the body, the tree, the canonical forms the
verifier digests). Python and lxml free all of it when the request ends, but glibc keeps freed heap
pages in the process: its mmap threshold rises after the first large buffer is freed, so later large
buffers come from the heap, and a heap fragmented by lxml's many small nodes is never shrunk. Measured
with bench/xml_limits.py, 34 MB of a 51 MB peak stayed resident after such a request; after
`malloc_trim(0)` none did. So the application calls it once a request whose body crossed
`TRIM_AFTER_BYTES` has been answered, in a worker thread (it walks the heap; the event loop keeps
serving). On a C library without `malloc_trim` (musl, macOS) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Callable
from functools import cache

#: Bodies at least this large are followed by a trim; below it the heap's own reuse is enough.
TRIM_AFTER_BYTES = 1 << 20


@cache
def _malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


def release_free_memory() -> bool:
    """Return the heap's free pages to the system; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
