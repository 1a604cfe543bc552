"""The ``vdxp.send`` outbox handler: one stored packet -> one ``sendEdoc`` on the national axis.

The payload is the packet exactly as the DMS posted it (a signature covers those bytes, so lgsp never
rewrites them). The destination ``axis:{edoc|status}:{sender}`` carries what ``sendEdoc`` needs, so
the handler does not parse a 50 MB packet again. The axis' DocId is returned, and the outbox records it
as the message's ``remote_id``. A resend after a crash sends the same bytes again — the receiver sees
the same edXML DocumentId and the same ``hash-file``, and lgsp's own receiving side drops such copies.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from sqlalchemy import Engine

from adapters.vdxp.client import AxisClient, MessageType
from adapters.vdxp.errors import AxisError
from adapters.vdxp.settings import VdxpSettings
from lgsp.sdk.delivery import Delivery, Handler, Permanent, Retryable
from lgsp.sdk.documents import max_packet_bytes

log = structlog.get_logger("lgsp.documents")

#: The outbox kind (handler name) that carries packets to the axis.
SEND_KIND = "vdxp.send"


def destination(kind: str, sender: str) -> str:
    """What the send handler needs without re-parsing the packet: ``axis:{edoc|status}:{sender}``."""
    return f"axis:{kind}:{sender}"


class AxisSendHandler:
    def __init__(self, client: AxisClient) -> None:
        self.client = client

    async def __call__(self, delivery: Delivery) -> str | None:
        parts = (delivery.destination or "").split(":")
        if len(parts) != 3 or parts[0] != "axis" or parts[1] not in ("edoc", "status"):
            raise Permanent(f"not an axis destination: {delivery.destination!r}")
        message_type: MessageType = "status" if parts[1] == "status" else "edoc"
        try:
            doc_id = await self.client.send_edoc(delivery.payload, sender=parts[2], message_type=message_type,
                                                 sha256=delivery.payload_sha256)
        except AxisError as exc:
            raise (Retryable if exc.retryable else Permanent)(str(exc)) from None
        log.info("sent to the axis", message_id=delivery.message_id, axis_doc_id=doc_id, kind=message_type,
                 attempt=delivery.attempt)
        return doc_id

    async def aclose(self) -> None:
        await self.client.aclose()


def make_client(settings: VdxpSettings) -> AxisClient:
    """The axis client, taking packets up to ``LGSP_MAX_DOCUMENT_BYTES`` (and answers up to their base64)."""
    return AxisClient(settings.url, settings.system_id, settings.secret, timeout=settings.timeout,
                      max_packet_bytes=max_packet_bytes())


def delivery_handlers(engine: Engine) -> Mapping[str, Handler]:
    """``AdapterInfo.delivery_handlers`` of the vdxp adapter (nothing when the axis is not configured)."""
    settings = VdxpSettings.from_env()
    if settings is None:
        return {}
    return {SEND_KIND: AxisSendHandler(make_client(settings))}
