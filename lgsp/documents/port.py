"""The port between the document façade and a document axis (the national exchange an adapter speaks).

The façade (``POST/GET /documents``, the tables, object access, the signature policy, the console) is
about documents as such; how a packet is read (edXML today), how it travels (the VXP REST API) and how
the agency directory is fetched belong to the adapter that implements :class:`DocumentAxis`. The
adapter names a factory ``(engine, settings) -> DocumentAxis`` in its ``AdapterInfo.document_axis``;
:mod:`lgsp.documents.axis` finds it. The outbox handler that carries ``send_kind`` messages and the
receiving jobs are declared by the same adapter (``delivery_handlers``, ``worker_jobs``), so the core
sends and receives without knowing the axis by name.
"""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable

from lgsp.documents.packets import PacketFacts, SignatureHook


class AxisNotConfigured(RuntimeError):
    """The axis cannot send or receive in this process (credentials missing); the message says which."""


@runtime_checkable
class DocumentAxis(Protocol):
    """What the core asks of the document axis."""

    #: The adapter's name (``vdxp``), for logs and problems.
    name: str
    #: The outbox kind whose handler (declared by the same adapter) delivers accepted packets.
    send_kind: str

    def inspect(self, data: bytes, *, expected_kind: str | None = None, max_bytes: int,
                signature_hook: SignatureHook | None = None) -> PacketFacts:
        """Read ``data`` into the façade's facts (raising ``PacketRejected`` for what the axis refuses).

        The signature is judged by the core's policy (:func:`lgsp.documents.packets.check_signature`);
        the axis says where the signature is and what a packet's parts are.
        """
        ...

    def destination(self, facts: PacketFacts) -> str:
        """The outbox destination of an accepted packet: what the send handler needs without re-parsing it."""
        ...

    async def run_receiving(self, stop: asyncio.Event) -> None:
        """Receive (list, fetch, store, acknowledge) and sync the agency directory until ``stop`` is set.

        Raises :class:`AxisNotConfigured` when this process has no credentials for the axis.
        """
        ...
