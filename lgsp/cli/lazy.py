"""Sub-commands loaded on first use, so `lgsp clients create` does not import pyHanko, frictionless, ...

Each entry names a typer app (a command group) or a plain command function by `module:attribute`, with the
one-line help shown in `lgsp --help` before the module is imported.
"""

from __future__ import annotations

import importlib
from typing import Any

import typer
from typer.core import TyperGroup

LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "audit": ("lgsp.audit.cli:app", "The audit log: tail, verify, proofs, export, retention."),
    "conformance": ("lgsp.conformance.cli:app", "Conformance suites against an endpoint (vdxp, dvcqg, ngsp)."),
    "deliveries": ("lgsp.delivery.cli:app", "Durable deliveries (outbox): list, show, replay, purge."),
    "documents": ("lgsp.documents.cli:app", "Official documents (edXML, national axis): directory, poll, rejected."),
    "opendata": ("lgsp.opendata.cli:app", "Publish curated open datasets to the CKAN portal."),
    "users": ("lgsp.console.cli:app", "Console accounts: create, list, disable, passwd."),
    "usage": ("lgsp.traffic.cli:usage_command", "Traffic limits and their current use per service and caller."),
    "verify": ("lgsp.cli.verify:verify_command", "Verify the signatures in a file (XML, PDF, JWS) and print a report."),
    "witness": ("lgsp.audit.witness_cli:app", "An independent witness for an audit log (C2SP tlog-witness)."),
}


def _load(name: str) -> Any:
    module_name, attribute = LAZY_COMMANDS[name][0].split(":")
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


class LazyGroup(TyperGroup):
    """A typer group whose listed lazy commands are imported only when invoked (or when help needs them)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *sorted(n for n in LAZY_COMMANDS if n not in self.commands)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.commands[cmd_name] = _load(cmd_name)
        return super().get_command(ctx, cmd_name)
