"""Adapters to external systems, discovered through the `lgsp.adapters` entry-point group only.

The core never imports an adapter by name: an adapter package declares one `AdapterInfo` under the
`lgsp.adapters` group, and every part it plugs in (API routers, worker jobs, delivery handlers, CLI
commands, its demo step, its document axis) is named there as a `module:attribute` reference. The
references are loaded only when that part of lgsp runs, so `lgsp --help` does not import an adapter's
HTTP client and `lgsp worker` does not import its API models. A province ships a new national adapter
(NDOP, PayGov, ...) as one package with one entry point and no edit here; `lgsp.sdk` is what such a
package may import from lgsp.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

GROUP = "lgsp.adapters"


@dataclass(frozen=True)
class AdapterInfo:
    """One adapter and the parts it plugs into lgsp (each a lazily loaded `module:attribute`)."""

    name: str
    title: str
    #: The simulator's command-line entry (argv without the program name); runs until interrupted.
    simulator_main: Callable[[list[str] | None], object] | None = None
    docs: str = ""
    #: FastAPI `APIRouter` objects included in the application (`lgsp serve`).
    routers: tuple[str, ...] = ()
    #: Factory `(engine, settings) -> list[lgsp.sdk.worker.Job]` run by `lgsp worker`.
    worker_jobs: str | None = None
    #: Factory `(engine) -> dict[kind, handler]` of outbox delivery handlers (`lgsp.sdk.delivery`).
    delivery_handlers: str | None = None
    #: `lgsp` sub-commands: name -> (`module:attribute` of a typer app or command, one-line help).
    commands: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    #: A `lgsp.sdk.demo.DemoStep` (or a plain `step(tour: lgsp.sdk.demo.Tour) -> None`), run by `make demo`
    #: in the step's `order`, ties in adapter-name order.
    demo_step: str | None = None
    #: Factory `(engine, settings) -> lgsp.sdk.documents.DocumentAxis` for the official-document façade.
    document_axis: str | None = None


class UnknownAdapter(LookupError):
    pass


@cache
def discover() -> dict[str, AdapterInfo]:
    """Installed adapters by name (entry points are read once per process)."""
    found: dict[str, AdapterInfo] = {}
    for ep in entry_points(group=GROUP):
        info = ep.load()
        if not isinstance(info, AdapterInfo):
            raise TypeError(f"entry point {ep.name} in {GROUP} is not an AdapterInfo")
        found[info.name] = info
    return dict(sorted(found.items()))


def get(name: str) -> AdapterInfo:
    adapters = discover()
    if name not in adapters:
        raise UnknownAdapter(f"no adapter {name!r}; installed: {', '.join(adapters) or 'none'}")
    return adapters[name]


def load(reference: str) -> Any:
    """The object a `module:attribute` reference names (imports the module on first use)."""
    module_name, _, attribute = reference.partition(":")
    if not attribute:
        raise ValueError(f"adapter reference {reference!r} is not of the form module:attribute")
    return getattr(importlib.import_module(module_name), attribute)


def parts(kind: str) -> list[tuple[AdapterInfo, Any]]:
    """`(adapter, loaded object)` for every adapter that declares `kind` (a field name of AdapterInfo)."""
    found: list[tuple[AdapterInfo, Any]] = []
    for info in discover().values():
        value = getattr(info, kind)
        references = value if isinstance(value, tuple) else (value,) if value else ()
        found.extend((info, load(reference)) for reference in references)
    return found
