"""What a document intake lets through, given the signature verifier's report: ``off | report | require``.

A signed edXML packet is only worth its signature if lgsp acts on *what was signed*. The tolerant reader
takes the first ``edXMLEnvelope`` and every attachment; a signature may cover only one element (an
``Id`` reference), and an attacker can move that signed element behind a forged one (signature
wrapping) or swap an attachment next to a signed envelope. So, whatever the policy (other than
``off``), a signature counts only when the content it protects is the *whole packet* (everything but
the Signature elements themselves), checked here by comparing the canonical form of the signed view the
verifier returned with the canonical form of the packet, independently of how the verifier labelled the
problem. The packet lgsp stores and forwards is then exactly the signed content (plus its signature),
or nothing.

=========  ===================================================================================
policy     lets through
=========  ===================================================================================
off        everything; signatures are not verified (``not-checked``)
report     unsigned packets, and signed packets whose signature covers the whole packet and is
           TOTAL_PASSED or INDETERMINATE for a trust reason (unknown CA, revocation unavailable);
           never TOTAL_FAILED, revoked signers, or a signature that does not cover the packet
require    only packets with a signature that covers the whole packet and is TOTAL_PASSED
=========  ===================================================================================
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Iterable

from lxml import etree

from lgsp.safexml import UnsafeXmlError, parse_xml

POLICIES = ("off", "report", "require")
DEFAULT_POLICY = "require"
#: Sub-indications refused even under ``report``: the signer is revoked, or the signature does not
#: protect what the packet says (wrapping, uncovered parts).
ALWAYS_REFUSED = frozenset({"REVOKED", "REVOKED_NO_POE", "REVOKED_CA_NO_POE", "SIGNED_DATA_NOT_FOUND"})


class PolicyRefusal(Exception):
    """The packet's signature does not satisfy the intake's policy; ``sub`` is the reason's sub-indication."""

    def __init__(self, sub: str, message: str) -> None:
        super().__init__(message)
        self.sub = sub
        self.message = message


def checked_policy(value: str) -> str:
    policy = (value or DEFAULT_POLICY).strip().lower()
    if policy not in POLICIES:
        raise ValueError(f"document signature policy must be one of {', '.join(POLICIES)}, not {value!r}")
    return policy


def _value(obj: object, name: str) -> object:
    value = obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)
    return getattr(value, "value", value)


def indication_of(report: object) -> str:
    for attribute in ("indication", "document_indication"):
        value = _value(report, attribute)
        if value is not None:
            return str(value)
    return "UNKNOWN"


def _signatures(report: object) -> list[object]:
    found = _value(report, "signatures")
    return list(found) if isinstance(found, list | tuple) else []


def sub_indications(report: object) -> list[str]:
    """Every sub-indication in the report: the document's and each signature's (the worst can hide others)."""
    subs = [_value(report, "sub_indication"), _value(report, "document_sub_indication")]
    subs += [_value(sig, "sub_indication") for sig in _signatures(report)]
    return [str(s) for s in subs if s]


def signed_views(report: object) -> list[bytes]:
    """The bytes each signature protects, as the crypto library returned them (empty: not known)."""
    views: list[bytes] = []
    top = _value(report, "signed_content")
    if isinstance(top, bytes):
        views.append(top)
    elif isinstance(top, list | tuple):
        views += [v for v in top if isinstance(v, bytes)]
    for sig in _signatures(report):
        content = _value(sig, "signed_content")
        if isinstance(content, bytes):
            views.append(content)
    return views


def _remove_keeping_tail(element: etree._Element) -> None:
    """Drop an element but keep the text after it, as the enveloped-signature transform does."""
    parent = element.getparent()
    if parent is None:
        return
    if element.tail:
        previous = element.getprevious()
        if previous is not None:
            previous.tail = (previous.tail or "") + element.tail
        else:
            parent.text = (parent.text or "") + element.tail
    parent.remove(element)


def _is_signature(element: etree._Element) -> bool:
    """An XML-DSig Signature in any namespace (edXML's non-conformant variant loses the DS namespace)."""
    if not isinstance(element.tag, str) or etree.QName(element).localname != "Signature":
        return False
    return any(isinstance(c.tag, str) and etree.QName(c).localname == "SignedInfo" for c in element)


def canonical_without_signatures(root: etree._Element, *, in_place: bool = False) -> bytes:
    """Exclusive C14N (no comments) of ``root`` (a copy unless ``in_place``) with every Signature removed."""
    tree = root if in_place else copy.deepcopy(root)
    for element in [e for e in tree.iter() if _is_signature(e)]:
        _remove_keeping_tail(element)
    return etree.tostring(tree, method="c14n", exclusive=True, with_comments=False)


def _digest_without_signatures(data: bytes, max_bytes: int) -> bytes:
    """SHA-256 of the canonical form; the tree and the canonical bytes are dropped before returning,
    so checking a large packet costs one tree and one canonical copy at a time."""
    return hashlib.sha256(canonical_without_signatures(parse_xml(data, max_bytes=max_bytes), in_place=True)).digest()


def covers_whole_packet(data: bytes, views: Iterable[bytes], max_bytes: int) -> bool:
    """True when at least one signed view is the whole packet apart from its signatures."""
    try:
        packet = _digest_without_signatures(data, max_bytes)
    except UnsafeXmlError:
        return False
    for view in views:
        try:
            if _digest_without_signatures(view, max_bytes) == packet:
                return True
        except UnsafeXmlError:
            continue
    return False


def judge(policy: str, data: bytes, report: object, max_bytes: int) -> str:
    """The verdict to record for a signed packet, or :class:`PolicyRefusal` when ``policy`` refuses it."""
    indication = indication_of(report)
    subs = sub_indications(report)
    if indication.endswith("TOTAL_FAILED"):
        raise PolicyRefusal(subs[0] if subs else "TOTAL_FAILED",
                            f"the packet's signature does not verify ({_label(indication, subs)})")
    refused = next((s for s in subs if s in ALWAYS_REFUSED), None)
    if refused is not None:
        raise PolicyRefusal(refused, f"the packet's signature is not acceptable ({_label(indication, [refused])})")
    if not covers_whole_packet(data, signed_views(report), max_bytes):
        raise PolicyRefusal("SIGNED_DATA_NOT_FOUND",
                            "the signature does not cover the whole packet (SIGNED_DATA_NOT_FOUND): the envelope "
                            "read, or an attachment, is not what was signed")
    if policy == "require" and indication != "TOTAL_PASSED":
        raise PolicyRefusal(subs[0] if subs else indication,
                            f"this intake requires a valid signature; got {_label(indication, subs)}")
    return indication


def _label(indication: str, subs: list[str]) -> str:
    return f"{indication}/{subs[0]}" if subs else indication
