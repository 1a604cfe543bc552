"""Adapters to external systems, discovered through the `lgsp.adapters` entry-point group.

A province can ship its own adapter as a separate distribution: it declares an `AdapterInfo` under the
`lgsp.adapters` group and lgsp lists it (`lgsp adapters`) and can run its simulator (`lgsp simulate NAME`)
without any change to the core.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points

GROUP = "lgsp.adapters"


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    title: str
    #: The simulator's command-line entry (argv without the program name); runs until interrupted.
    simulator_main: Callable[[list[str] | None], object]
    docs: str = ""


class UnknownAdapter(LookupError):
    pass


def discover() -> dict[str, AdapterInfo]:
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
