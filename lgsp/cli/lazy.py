"""Sub-commands loaded on first use, so `lgsp clients create` does not import pyHanko, frictionless, ...

Each entry names a typer app (a command group) or a plain command function by `module:attribute`, with the
one-line help shown in `lgsp --help` before the module is imported.
"""

from __future__ import annotations

import importlib
from functools import cache
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup

LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("lgsp.audit.cli:app", "The audit log: tail, verify, proofs, export, retention."),
    "conformance": ("lgsp.conformance.cli:app", "Conformance suites against an endpoint (vdxp, dvcqg, ngsp)."),
    "deliveries": ("lgsp.delivery.cli:app", "Durable deliveries (outbox): list, show, replay, purge."),
    "opendata": ("lgsp.opendata.cli:app", "Publish curated open datasets to the CKAN portal."),
    "users": ("lgsp.console.cli:app", "Console accounts: create, list, disable, passwd."),
    "usage": ("lgsp.traffic.cli:usage_command", "Traffic limits and their current use per service and caller."),
    "verify": ("lgsp.cli.verify:verify_command", "Verify the signatures in a file (XML, PDF, JWS) and print a report."),
    "witness": ("lgsp.audit.witness_cli:app", "An independent witness for an audit log (C2SP tlog-witness)."),
}


@cache
def lazy_commands() -> dict[str, tuple[str, str]]:
    """The core's lazy commands and those adapters declare (`AdapterInfo.commands`); the core wins a clash."""
    from lgsp.adapters import discover

    merged: dict[str, tuple[str, str]] = {}
    for info in discover().values():
        merged.update(info.commands)
    merged.update(LAZY_COMMANDS)
    return merged


def _entry(name: str) -> tuple[str, str] | None:
    """A lazy command's (reference, help); a core command is found without reading the adapters' entry points."""
    return LAZY_COMMANDS.get(name) or lazy_commands().get(name)


def _load(name: str, reference: str) -> Any:
    module_name, attribute = reference.split(":")
    target: Any = getattr(importlib.import_module(module_name), attribute)
    command: Any
    if isinstance(target, typer.Typer):
        command = typer.main.get_group(target)
    else:
        holder = typer.Typer()
        holder.command(name)(target)
        holder.command("-")(lambda: None)  # two commands keep typer from collapsing the app into one command
        group = typer.main.get_group(holder)
        command = group.commands[name]
    command.name = name
    return command


def _placeholder(name: str, text: str) -> Any:
    """What `lgsp --help` lists for a command not loaded yet: its name and one-line help, nothing imported."""
    return TyperCommand(name=name, help=text, short_help=text, callback=None)


class LazyGroup(TyperGroup):
    """A typer group whose listed lazy commands are imported only when invoked.

    Help listings (which call ``get_command`` for every name) get a placeholder, so `lgsp --help` imports
    none of them; running a command (``resolve_command``) loads the real one, with its own ``--help``.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *sorted(n for n in lazy_commands() if n not in self.commands)]

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        name = args[0] if args else None
        entry = _entry(name) if name is not None and name not in self.commands else None
        if name is not None and entry is not None:
            self.commands[name] = _load(name, entry[0])
        return super().resolve_command(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        """Run the command; a bad setting or an unreachable store is one ``error:`` line, not a traceback."""
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from lgsp.cli.errors import operator_message

            answer = operator_message(exc)
            if answer is None:
                raise
            from lgsp.cli.common import fail

            fail(*answer)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        entry = _entry(cmd_name) if cmd_name not in self.commands else None
        if entry is not None:
            return _placeholder(cmd_name, entry[1])
        return super().get_command(ctx, cmd_name)
