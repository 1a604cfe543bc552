"""X-Road message protocol v4.0 SOAP headers (client, service, id, userId, issue, protocolVersion).

National SOAP services in the X-Road style (VDXP, NGSP) route and log by these headers, so lgsp fills them
from the caller's identity rather than trusting whatever a client put there. Identifiers are written as
``INSTANCE/CLASS/MEMBER[/SUBSYSTEM]`` for a client and ``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]``
for a service, like X-Road's own tooling.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

XROAD_NS = "http://x-road.eu/xsd/xroad.xsd"
ID_NS = "http://x-road.eu/xsd/identifiers"
PROTOCOL_VERSION = "4.0"

__all__ = ["ID_NS", "PROTOCOL_VERSION", "XROAD_NS", "XRoadClient", "XRoadHeaders", "XRoadService"]


def _parts(text: str, low: int, high: int, what: str) -> list[str]:
    parts = text.split("/")
    if not low <= len(parts) <= high or not all(p.strip() for p in parts):
        raise ValueError(f"{what} identifier {text!r} must have {low} to {high} non-empty '/'-separated parts")
    return parts


@dataclass(frozen=True)
class XRoadClient:
    """The calling subsystem (``xrd:client``, objectType SUBSYSTEM, or MEMBER without a subsystem)."""

    instance: str
    member_class: str
    member_code: str
    subsystem_code: str | None = None

    @classmethod
    def parse(cls, text: str) -> XRoadClient:
        p = _parts(text, 3, 4, "client")
        return cls(p[0], p[1], p[2], p[3] if len(p) == 4 else None)

    def __str__(self) -> str:
        return "/".join(x for x in (self.instance, self.member_class, self.member_code, self.subsystem_code) if x)


@dataclass(frozen=True)
class XRoadService:
    """The called service (``xrd:service``, objectType SERVICE)."""

    instance: str
    member_class: str
    member_code: str
    subsystem_code: str
    service_code: str
    service_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> XRoadService:
        p = _parts(text, 5, 6, "service")
        return cls(p[0], p[1], p[2], p[3], p[4], p[5] if len(p) == 6 else None)

    def __str__(self) -> str:
        parts = (
            self.instance,
            self.member_class,
            self.member_code,
            self.subsystem_code,
            self.service_code,
            self.service_version,
        )
        return "/".join(x for x in parts if x)


def _id(tag: str, text: str) -> etree._Element:
    el = etree.Element(f"{{{ID_NS}}}{tag}", nsmap={"id": ID_NS})
    el.text = text
    return el


@dataclass(frozen=True)
class XRoadHeaders:
    """The header set lgsp puts on every SOAP request it forwards; ``id`` defaults to a fresh UUID."""

    client: XRoadClient
    service: XRoadService
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    user_id: str | None = None
    issue: str | None = None
    protocol_version: str = PROTOCOL_VERSION

    def elements(self) -> list[etree._Element]:
        """The header elements in X-Road's order, ready for a SOAP ``Header``."""
        nsmap = {"xrd": XROAD_NS, "id": ID_NS}
        client = etree.Element(f"{{{XROAD_NS}}}client", nsmap=nsmap)
        client.set(f"{{{ID_NS}}}objectType", "SUBSYSTEM" if self.client.subsystem_code else "MEMBER")
        for tag, value in (
            ("xRoadInstance", self.client.instance),
            ("memberClass", self.client.member_class),
            ("memberCode", self.client.member_code),
            ("subsystemCode", self.client.subsystem_code),
        ):
            if value:
                client.append(_id(tag, value))
        service = etree.Element(f"{{{XROAD_NS}}}service", nsmap=nsmap)
        service.set(f"{{{ID_NS}}}objectType", "SERVICE")
        s = self.service
        for tag, value in (
            ("xRoadInstance", s.instance),
            ("memberClass", s.member_class),
            ("memberCode", s.member_code),
            ("subsystemCode", s.subsystem_code),
            ("serviceCode", s.service_code),
            ("serviceVersion", s.service_version),
        ):
            if value:
                service.append(_id(tag, value))
        out = [client, service]
        for tag, text in (
            ("userId", self.user_id),
            ("id", self.id),
            ("issue", self.issue),
            ("protocolVersion", self.protocol_version),
        ):
            if text is not None:
                el = etree.Element(f"{{{XROAD_NS}}}{tag}", nsmap={"xrd": XROAD_NS})
                el.text = text
                out.append(el)
        return out


def read_headers(header: etree._Element | None) -> dict[str, str]:
    """The simple X-Road header values of a SOAP Header as a dict (client/service as '/'-joined ids)."""
    found: dict[str, str] = {}
    if header is None:
        return found
    for child in header:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{XROAD_NS}}}"):
            continue
        local = etree.QName(child).localname
        if local in ("client", "service"):
            found[local] = "/".join((c.text or "").strip() for c in child if isinstance(c.tag, str))
        else:
            found[local] = (child.text or "").strip()
    return found
