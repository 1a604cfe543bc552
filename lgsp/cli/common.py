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


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)
