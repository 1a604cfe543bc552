"""Exceptions any command may meet, turned into the one-line answers an operator gets instead of a traceback.

Settings are read (and the store opened) by almost every command, each in its own way; rather than guard
each call, the root command group (lgsp.cli.lazy.LazyGroup) asks :func:`operator_message` about whatever
escapes a command. Only kinds of failure that are the operator's to fix are translated; anything else still
raises, so a real bug keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

from lgsp.settings import SettingsError

T = TypeVar("T")

#: Exit codes, as elsewhere in the CLI: 2 = the input (here a setting) cannot be used, 1 = a needed service
#: (the store) did not answer.
BAD_INPUT = 2
UNAVAILABLE = 1


def operator_message(exc: BaseException) -> tuple[str, int] | None:
    """(message, exit code) for a failure the operator can fix, or None to let it raise."""
    if isinstance(exc, SettingsError):
        return str(exc), BAD_INPUT
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")  # never import SQLAlchemy just to look
    if sqlalchemy_exc is not None:
        if isinstance(exc, sqlalchemy_exc.ArgumentError):  # includes NoSuchModuleError (unknown dialect)
            return f"LGSP_DATABASE_URL: not a usable database URL ({_first_line(exc)})", BAD_INPUT
        if isinstance(exc, (sqlalchemy_exc.OperationalError, sqlalchemy_exc.InterfaceError)):
            said = _first_line(getattr(exc, "orig", None) or exc)
            return f"the store (LGSP_DATABASE_URL) cannot be used: {said}", UNAVAILABLE
    return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def answered(main: Callable[[], T]) -> T:
    """``main()``, with what :func:`operator_message` knows printed as one ``error:`` line (and its exit code).

    For the entry points that run outside the ``lgsp`` command group (``python -m lgsp.delivery``, ``python -m
    lgsp.documents``): they read the same settings, so an operator's typo gets the same answer there.
    """
    try:
        return main()
    except Exception as exc:
        answer = operator_message(exc)
        if answer is None:
            raise
        message, code = answer
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(code) from None
