"""Errors and warnings of the edXML library.

A packet from another agency's DMS is often slightly off-spec (element order, namespace slips, a missing
``cid:`` prefix). Refusing those would lose official documents, so the reader accepts them and records a
:class:`Deviation` for each; only packets we cannot interpret safely raise :class:`EdxmlError`. Both carry
a stable ``code`` so callers (status packets, problem responses, dashboards) can act on the kind of fault.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Deviation:
    """One tolerated departure from the canonical packet: ``code`` is stable, ``path`` locates it."""

    code: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} at {self.path}: {self.message}"


class EdxmlError(ValueError):
    """A packet (or a model given to the writer) that cannot be accepted; ``code`` names the reason."""

    def __init__(self, code: str, message: str, path: str = "") -> None:
        self.code = code
        self.message = message
        self.path = path
        where = f" at {path}" if path else ""
        super().__init__(f"[{code}]{where} {message}")
