"""What an adapter's `lgsp` sub-command (`AdapterInfo.commands`) may use: the console, the store, errors.

The same helpers the core's commands use, so an adapter's command prints, exits and opens the database
(migrations applied) exactly like theirs; nothing heavy is imported until a command calls them.
"""

from __future__ import annotations

from lgsp.cli.common import console, engine_from_settings, err_console, fail

__all__ = ["console", "engine_from_settings", "err_console", "fail"]
