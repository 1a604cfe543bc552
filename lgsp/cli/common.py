"""What every CLI command needs: settings, an engine with migrations applied, consistent errors."""

from __future__ import annotations

import sys
from typing import NoReturn

from rich.console import Console
from sqlalchemy import Engine

from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade

console = Console()
err_console = Console(stderr=True)


def engine_from_settings(migrate: bool = True) -> Engine:
    settings = Settings.load()
    engine = make_engine(settings.database_url)
    if migrate:
        upgrade(engine)
    return engine


def fail(message: str, code: int = 1) -> NoReturn:
    err_console.print(f"[bold red]error:[/] {message}")
    sys.exit(code)
