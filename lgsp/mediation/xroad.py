"""X-Road message protocol v4.0 SOAP headers (client, service, id, userId, issue, protocolVersion).

National SOAP services in the X-Road style (VDXP, NGSP) route and log by these headers, so lgsp fills them
from the caller's identity rather than trusting whatever a client put there. Identifiers are written as
``INSTANCE/CLASS/MEMBER[/SUBSYSTEM]`` for a client and ``INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE[/VERSION]``
for a service, like X-Road's own tooling.
"""

from __future__ import annotations

import uuid
from copy import deepcopy
from dataclasses import dataclass, field
from functools import lru_cache

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
        """The header elements in X-Road's order, ready for a SOAP ``Header``.

        The client and service blocks are built once per identity and copied (a C-level copy is a few
        microseconds; building their eleven elements through the Python API is tens).
        """
        out = [deepcopy(_client_element(self.client)), deepcopy(_service_element(self.service))]
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


@lru_cache(maxsize=4096)
def _client_element(client: XRoadClient) -> etree._Element:
    """``xrd:client`` for one caller; cached, so callers must copy it before putting it in a document."""
    element = etree.Element(f"{{{XROAD_NS}}}client", nsmap={"xrd": XROAD_NS, "id": ID_NS})
    element.set(f"{{{ID_NS}}}objectType", "SUBSYSTEM" if client.subsystem_code else "MEMBER")
    for tag, value in (
        ("xRoadInstance", client.instance),
        ("memberClass", client.member_class),
        ("memberCode", client.member_code),
        ("subsystemCode", client.subsystem_code),
    ):
        if value:
            element.append(_id(tag, value))
    return element


@lru_cache(maxsize=4096)
def _service_element(service: XRoadService) -> etree._Element:
    """``xrd:service`` for one called service; cached like :func:`_client_element`."""
    element = etree.Element(f"{{{XROAD_NS}}}service", nsmap={"xrd": XROAD_NS, "id": ID_NS})
    element.set(f"{{{ID_NS}}}objectType", "SERVICE")
    for tag, value in (
        ("xRoadInstance", service.instance),
        ("memberClass", service.member_class),
        ("memberCode", service.member_code),
        ("subsystemCode", service.subsystem_code),
        ("serviceCode", service.service_code),
        ("serviceVersion", service.service_version),
    ):
        if value:
            element.append(_id(tag, value))
    return element


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
