"""Text from a checked file or store, made safe to print in a verdict.

Why: the verifiers print failure details that quote what they were given (a head's ``key_id``, a bundle's
``origin``, an exception message about a field). Printed through rich, a ``[/x]`` in such a value raised
``MarkupError`` (a traceback instead of a verdict), and ``[green]`` or a newline followed by
``VERIFIED: …`` let the tampered input dress up its own failure as a pass. Every quoted value goes
through :func:`printable` first: markup is escaped and control characters are shown as ``\\xNN``, so one
check is always one line and only the verifier decides what is green.
"""

from __future__ import annotations

import re

from rich.markup import escape

__all__ = ["printable"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """``text`` as one line of literal characters for a rich console (markup escaped, controls shown)."""
    flat = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(text))
    return escape(flat)
