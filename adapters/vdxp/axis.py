"""The vdxp adapter's document axis (``AdapterInfo.document_axis``): edXML packets over the VXP REST API.

The core's document façade asks this object to read a packet (:func:`adapters.vdxp.packets.inspect_packet`),
where the ``vdxp.send`` handler sends an accepted one, and to run receiving; it never imports this
package by name (``lgsp.sdk.documents.DocumentAxis`` is the port). Reading works without axis
credentials; receiving needs ``LGSP_VDXP_URL`` and the system's id and secret.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import Engine

from adapters.vdxp.handler import SEND_KIND, destination
from adapters.vdxp.packets import inspect_packet
from adapters.vdxp.settings import VdxpSettings
from lgsp.sdk.documents import AxisNotConfigured, PacketFacts, SignatureHook


class EdxmlAxis:
    """:class:`lgsp.sdk.documents.DocumentAxis` for the national document exchange axis (VXP/VDXP)."""

    name = "vdxp"
    send_kind = SEND_KIND

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def inspect(self, data: bytes, *, expected_kind: str | None = None, max_bytes: int,
                signature_hook: SignatureHook | None = None) -> PacketFacts:
        return inspect_packet(data, expected_kind=expected_kind, max_bytes=max_bytes, signature_hook=signature_hook)

    def destination(self, facts: PacketFacts) -> str:
        return destination(facts.kind, facts.sender)

    async def run_receiving(self, stop: asyncio.Event) -> None:
        from adapters.vdxp.jobs import run_receiving

        try:
            settings = VdxpSettings.from_env()
        except ValueError as exc:
            raise AxisNotConfigured(str(exc)) from None
        if settings is None:
            raise AxisNotConfigured("LGSP_VDXP_URL is not set: nothing to receive from")
        await run_receiving(self.engine, settings, stop)


def factory(engine: Engine, settings: object) -> EdxmlAxis:
    """``(engine, settings) -> DocumentAxis``, named in the adapter's ``AdapterInfo.document_axis``."""
    return EdxmlAxis(engine)
