"""Reading an edXML packet into the façade's facts: what lgsp accepts from a DMS and from the axis.

Used both ways: the façade asks the axis (:mod:`adapters.vdxp.axis`) to read what a DMS posts, the
poller reads what the axis hands over; both call :func:`inspect_packet`, so "what lgsp accepts" is one
rule. The edXML parts live here (hard errors of the tolerant reader, where the signature is, which
documents a revocation acts on); the signature is judged by the core's policy
(``lgsp.sdk.documents.check_signature``).
"""

from __future__ import annotations

import hashlib

from adapters.vdxp.edxml import DocumentPacket, EdxmlError, StatusPacket, read_packet
from lgsp.safexml import UnsafeXmlError, XmlLimitExceeded, prescan
from lgsp.sdk.documents import (
    PacketFacts,
    PacketRejected,
    SignatureHook,
    check_signature,
    check_storable,
    entry_limits,
    lane,
)
from lgsp.sdk.documents import signature_policy as checked_policy


def inspect_packet(data: bytes, *, expected_kind: str | None = None, max_bytes: int,
                   signature_hook: SignatureHook | None = None, signature_policy: str | None = None) -> PacketFacts:
    """Parse, validate and (when a hook is set) verify ``data``; raise :class:`PacketRejected` on hard errors.

    ``signature_policy`` (off | report | require, default the ``documents_signature_policy`` setting) says
    what a checked signature must prove (``lgsp.documents.signature_policy``, judged in the core). A signed packet the
    XSD rejects is refused once signatures are checked: what the tolerant reader makes of a
    non-canonical packet need not be what the signer (or the recipient) read in it.
    """
    policy = checked_policy(signature_policy)
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
            ordering_key=lane(f"status:{packet.from_.organ_id}:{packet.response_for.document_id}"))
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
            signature=check_signature(data, packet.signature is not None and packet.signature.present,
                                      packet.signature, signature_hook, policy, max_bytes),
            ordering_key=lane(f"edoc:{header.from_.organ_id}:{target}"),
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
    check_storable(facts)
    return facts
