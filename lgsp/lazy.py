"""Lazy re-exports for a package's public names (PEP 562), so importing the package stays cheap.

A package such as ``lgsp.mediation`` or an adapter re-exports names from its submodules, but the
submodules pull in heavy libraries (zeep, pydantic, aiohttp) that `lgsp --help` or the gateway's start
must not pay for. ``home`` maps each public name to the submodule that defines it; the package keeps its
literal ``__all__`` (and its ``TYPE_CHECKING`` imports) so linters and type checkers see the names.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, home: Mapping[str, str], namespace: dict[str, Any]) -> Callable[[str], Any]:
    """The package's ``__getattr__``: a name loads with its submodule on first use, then stays cached."""

    def __getattr__(name: str) -> Any:
        module = home.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{module}", package), name)
        namespace[name] = value
        return value

    return __getattr__
