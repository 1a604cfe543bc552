"""What every CLI command needs: settings, an engine with migrations applied, consistent errors.

Nothing heavy is imported at module level (SQLAlchemy, Alembic and rich load when a command first needs
them), so `lgsp --help` and `lgsp verify` start fast; bench/startup.py measures it.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine


class _LazyConsole:
    """A rich Console created on first use (rich costs a noticeable part of start-up)."""

    def __init__(self, stderr: bool = False) -> None:
        self._stderr = stderr
        self._console: Console | None = None

    def __getattr__(self, name: str) -> Any:
        if self._console is None:
            from rich.console import Console

            self._console = Console(stderr=self._stderr)
        return getattr(self._console, name)


console: Any = _LazyConsole()
err_console: Any = _LazyConsole(stderr=True)


def engine_from_settings(migrate: bool = True) -> Engine:
    from lgsp.settings import Settings
    from lgsp.store.db import make_engine

    settings = Settings.load()
    engine = make_engine(settings.database_url)
    if migrate:
        from lgsp.store.migrate import upgrade

        upgrade(engine)
    return engine


#: The longest age in days a CLI option takes (a century): timedelta ends at 999,999,999 days, and a larger
#: number than this is a typo, not a retention policy.
MAX_DAYS = 36_500


def finite(value: float | None) -> float | None:
    """A typer callback for float options: NaN passes click's range checks (every comparison is false)."""
    import math

    import typer

    if value is not None and not math.isfinite(value):
        raise typer.BadParameter(f"{value} is not a finite number")
    return value


def fail(message: str, code: int = 1) -> NoReturn:
    """Print ``error: message`` as one line (never wrapped at the terminal's width) and exit with ``code``."""
    from rich.markup import escape  # the message may quote an operator's value, e.g. "[red]"

    err_console.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, highlight=False)
    sys.exit(code)
