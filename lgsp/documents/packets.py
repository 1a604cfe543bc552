"""Reading a packet into the facts lgsp keeps about it, with the pluggable signature check.

Used both ways: the façade reads what a DMS posts (and refuses hard errors with a problem), the poller
reads what the axis hands over (and tells the axis ``fail`` for hard errors). Both call
:func:`inspect_packet`, so "what lgsp accepts" is one rule.

The signature check is a plain function hook (``(packet bytes, SignatureInfo) -> report``) so either
``signing/`` or this package can land first: with no hook the packet is accepted unchecked and the
row says ``not-checked``. With a hook, the intake's policy (``off | report | require``, see
:mod:`lgsp.documents.signature_policy`) judges the report: a signature only counts when what it protects
is the whole packet, so a wrapped or partly signed packet is refused, never stored; a hook that raises
refuses the packet too (fail closed).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from adapters.vdxp.edxml import DocumentPacket, EdxmlError, SignatureInfo, StatusPacket, read_packet
from lgsp.documents.signature_policy import PolicyRefusal, checked_policy, judge
from lgsp.safexml import UnsafeXmlError, XmlLimitExceeded, prescan
from lgsp.xml_limits import entry_limits

SignatureHook = Callable[[bytes, SignatureInfo], object]
HOOK_ENV = "LGSP_DOCUMENTS_SIGNATURE_HOOK"


class PacketRejected(Exception):
    """A packet lgsp will not take; ``code`` is stable (``edxml-<reader code>``, ``signature-invalid``, …)."""

    def __init__(self, code: str, message: str, path: str = "", *, sub_indication: str | None = None,
                 limit: str | None = None, maximum: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path
        self.sub_indication = sub_indication
        self.limit = limit
        self.maximum = maximum


@dataclass(frozen=True)
class PacketFacts:
    kind: str  # edoc | status
    sender: str
    recipients: list[str]
    document_id: str
    code: str
    subject: str
    status_code: str | None
    sha256: str
    size: int
    deviations: list[str] = field(default_factory=list)
    signature: str | None = None
    #: The FIFO lane in the outbox: revisions of one document (and status reports about it) go in order.
    ordering_key: str = ""
    #: BussinessDocType (0 new, 1 revoke, 2 update, 3 replace) and the DocumentIds a 1/2/3 acts on.
    business_type: int = 0
    targets: list[str] = field(default_factory=list)


def load_hook(spec: str | None = None) -> SignatureHook | None:
    """The hook named ``module:function`` in ``LGSP_DOCUMENTS_SIGNATURE_HOOK`` (None when unset)."""
    spec = os.environ.get(HOOK_ENV, "") if spec is None else spec
    if not spec:
        return None
    module, _, name = spec.partition(":")
    if not module or not name:
        raise ValueError(f"{HOOK_ENV} must look like 'package.module:function', not {spec!r}")
    hook: SignatureHook = getattr(importlib.import_module(module), name)
    return hook


def document_signature_policy() -> str:
    """``LGSP_DOCUMENTS_SIGNATURE_POLICY`` (off | report | require; default require) for both intakes."""
    from lgsp.settings import Settings

    return checked_policy(Settings.load().documents_signature_policy)


def _check_signature(data: bytes, signature: SignatureInfo | None, hook: SignatureHook | None, policy: str,
                     max_bytes: int) -> str:
    signed = signature is not None and signature.present
    if hook is None or policy == "off":
        return "not-checked" if signed else "unsigned"
    if not signed:
        if policy == "require":
            raise PacketRejected("signature-required", "this intake accepts signed packets only (policy require)",
                                 "edXMLHeader/Signature")
        return "unsigned"
    assert signature is not None
    try:
        report = hook(data, signature)
    except Exception as exc:  # fail closed: a verifier that cannot decide must not let a packet through
        raise PacketRejected("signature-invalid", f"the signature could not be verified: {exc}",
                             "edXMLHeader/Signature") from exc
    try:
        return judge(policy, data, report, max_bytes)
    except PolicyRefusal as exc:
        raise PacketRejected("signature-invalid", exc.message, "edXMLHeader/Signature",
                             sub_indication=exc.sub) from None


def _lane(key: str) -> str:
    """Outbox ordering keys are at most 200 characters; long DocumentIds are hashed (same id, same lane)."""
    return key if len(key) <= 200 else key[:120] + "#" + hashlib.sha256(key.encode()).hexdigest()


def inspect_packet(data: bytes, *, expected_kind: str | None = None, max_bytes: int,
                   signature_hook: SignatureHook | None = None, signature_policy: str | None = None) -> PacketFacts:
    """Parse, validate and (when a hook is set) verify ``data``; raise :class:`PacketRejected` on hard errors.

    ``signature_policy`` (off | report | require, default the ``documents_signature_policy`` setting) says
    what a checked signature must prove (:mod:`lgsp.documents.signature_policy`). A signed packet the
    XSD rejects is refused once signatures are checked: what the tolerant reader makes of a
    non-canonical packet need not be what the signer (or the recipient) read in it.
    """
    policy = checked_policy(signature_policy) if signature_policy is not None else document_signature_policy()
    try:
        prescan(data, entry_limits("documents", max_bytes))
    except XmlLimitExceeded as exc:
        raise PacketRejected("xml-too-large", f"the packet is refused before parsing: {exc}", "/",
                             limit=exc.limit, maximum=exc.maximum) from None
    except UnsafeXmlError:
        pass  # malformed or a DTD: the reader reports it with its own codes
    try:
        result = read_packet(data, max_bytes=max_bytes, schema_check=True)
    except EdxmlError as exc:
        raise PacketRejected(f"edxml-{exc.code}", exc.message, exc.path) from None
    packet = result.packet
    deviations = [str(d) for d in result.deviations]
    sha256 = hashlib.sha256(data).hexdigest()
    if isinstance(packet, StatusPacket):
        facts = PacketFacts(
            kind="status", sender=packet.from_.organ_id, recipients=[packet.response_for.organ_id],
            document_id=packet.response_for.document_id, code=packet.response_for.code,
            subject=packet.description or packet.status_code.label, status_code=packet.status_code.value,
            sha256=sha256, size=len(data), deviations=deviations, signature="unsigned",
            ordering_key=_lane(f"status:{packet.from_.organ_id}:{packet.response_for.document_id}"))
    else:
        assert isinstance(packet, DocumentPacket)
        header = packet.header
        # revoke/update/replace go in the lane of the (first) document they act on, after the original
        targets = packet.targets
        target = targets[0] if targets else header.document_id
        facts = PacketFacts(
            kind="edoc", sender=header.from_.organ_id,
            recipients=list(dict.fromkeys(o.organ_id for o in header.to)), document_id=header.document_id,
            code=str(header.code), subject=header.subject, status_code=None, sha256=sha256, size=len(data),
            deviations=deviations,
            signature=_check_signature(data, packet.signature, signature_hook, policy, max_bytes),
            ordering_key=_lane(f"edoc:{header.from_.organ_id}:{target}"),
            business_type=int(packet.trace.business.doc_type), targets=targets)
        if signature_hook is not None and policy != "off" and packet.signature is not None \
                and packet.signature.present:
            # a duplicate element is as ambiguous as a schema error: the reader takes the first, a
            # recipient might take the other, and the signature covers both
            schema = next((d for d in result.deviations if d.code in ("schema", "duplicate-element")), None)
            if schema is not None:
                raise PacketRejected("edxml-schema", f"a signed packet must be valid edXML: {schema.message}",
                                     schema.path)
    if expected_kind is not None and expected_kind != facts.kind:
        raise PacketRejected("kind-mismatch", f"kind={expected_kind} was given but the packet is a {facts.kind} packet",
                             "edXMLHeader/MessageHeader")
    return facts
