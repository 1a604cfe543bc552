"""The facts lgsp keeps about a packet, and the pluggable signature check the façade's policy judges.

Used both ways: the façade reads what a DMS posts (and refuses hard errors with a problem), the poller
reads what the axis hands over (and tells the axis ``fail`` for hard errors). Both ask the document
axis (:mod:`lgsp.documents.port`) to read the packet into :class:`PacketFacts`, and the axis calls
:func:`check_signature` here, so "what lgsp accepts" is one rule whatever the packet format.

The signature check is a plain function hook (``(packet bytes, the format's signature info) -> report``)
so either ``signing/`` or this package can land first: with no hook the packet is accepted unchecked
and the row says ``not-checked``. With a hook, the intake's policy (``off | report | require``, see
:mod:`lgsp.documents.signature_policy`) judges the report: a signature only counts when what it protects
is the whole packet, so a wrapped or partly signed packet is refused, never stored; a hook that raises
refuses the packet too (fail closed).
"""

from __future__ import annotations

import hashlib
import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table

from lgsp.documents.models import Document, DocumentLink
from lgsp.documents.signature_policy import PolicyRefusal, checked_policy, judge
from lgsp.settings import Settings

#: ``(packet bytes, the axis format's signature element info) -> the verifier's report``.
SignatureHook = Callable[[bytes, object], object]
HOOK_ENV = "LGSP_DOCUMENTS_SIGNATURE_HOOK"
#: ``LGSP_MAX_DOCUMENT_BYTES`` default: above the 50 MB gateway rule of PROTOCOLS.md §1.5, so a 50 MB
#: attachment (67 MB as base64) fits; the reader's XML limits are bounded by this, never unlimited.
DEFAULT_MAX_PACKET_BYTES = 100 * 1024 * 1024


def max_packet_bytes(environ: Mapping[str, str] | None = None) -> int:
    """The ``max_document_bytes`` setting (``LGSP_MAX_DOCUMENT_BYTES``): the one packet size limit.

    With ``environ`` given, only that mapping is read (default :data:`DEFAULT_MAX_PACKET_BYTES`).
    """
    if environ is not None:
        value = environ.get("LGSP_MAX_DOCUMENT_BYTES")
        return int(value) if value else DEFAULT_MAX_PACKET_BYTES
    return int(current_settings().max_document_bytes)


_settings_cache: tuple[tuple[tuple[str, str], ...], Settings] | None = None


def current_settings() -> Settings:
    """``Settings.load()``, cached for as long as the ``LGSP_*`` environment stays the same.

    Why: intake asks for the size limit and the signature policy on every packet, and loading the
    settings costs ~0.7 ms — a tenth of a 50 KB document's whole budget; comparing the environment ~10 µs.
    """
    global _settings_cache
    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("LGSP_")))
    cached = _settings_cache
    if cached is not None and cached[0] == key:
        return cached[1]
    settings = Settings.load()
    _settings_cache = (key, settings)
    return settings


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


#: (fact, where in the packet, the column it fills in lgsp.documents.models). PostgreSQL refuses a longer
#: value, and a refused row failed every document committed with it; SQLite kept it, so the two disagreed.
def _length(column: Any) -> int:
    return cast(int, column.type.length)


_DOCUMENTS = cast(Table, Document.__table__).c
_STORED_LENGTHS = (("sender", "edXMLHeader/MessageHeader/From/OrganId", _length(_DOCUMENTS.sender)),
                   ("document_id", "edXMLHeader/MessageHeader/DocumentId", _length(_DOCUMENTS.document_id)),
                   ("code", "edXMLHeader/MessageHeader/Code", _length(_DOCUMENTS.code)))
_RECIPIENT_LENGTH = _length(_DOCUMENTS.agency)  # an incoming document is kept under its recipient agency
_TARGET_LENGTH = _length(cast(Table, DocumentLink.__table__).c.target_document_id)


def check_storable(facts: PacketFacts) -> None:
    """Raise :class:`PacketRejected` (``field-too-long``) for a fact longer than the column it is stored in.

    Every :class:`DocumentAxis` calls it on the facts it read, so intake answers 422 naming the field and a
    receiving poller keeps the packet as rejected, instead of a database error later.
    """
    checks = [(getattr(facts, name), path, limit) for name, path, limit in _STORED_LENGTHS]
    checks += [(r, "edXMLHeader/MessageHeader/To/OrganId", _RECIPIENT_LENGTH) for r in facts.recipients]
    checks += [(t, "edXMLEnvelope/TraceHeaderList (target DocumentId)", _TARGET_LENGTH) for t in facts.targets]
    for value, path, limit in checks:
        if len(value) > limit:
            raise PacketRejected("field-too-long", f"{len(value)} characters; lgsp stores at most {limit}", path)


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
    return checked_policy(current_settings().documents_signature_policy)


def signature_policy(value: str | None = None) -> str:
    """``value`` checked, or the configured document signature policy when None."""
    return checked_policy(value) if value is not None else document_signature_policy()


def check_signature(data: bytes, signed: bool, signature: object, hook: SignatureHook | None, policy: str,
                    max_bytes: int, *, at: str = "edXMLHeader/Signature") -> str:
    """``unsigned | not-checked`` or the judged signature state; raises :class:`PacketRejected` (policy refusal).

    ``signed`` says whether the packet carries a signature at all, ``signature`` is what the axis reader
    found about it (handed to the hook as is), ``at`` the path named in a refusal.
    """
    if hook is None or policy == "off":
        return "not-checked" if signed else "unsigned"
    if not signed:
        if policy == "require":
            raise PacketRejected("signature-required", "this intake accepts signed packets only (policy require)", at)
        return "unsigned"
    try:
        report = hook(data, signature)
    except Exception as exc:  # fail closed: a verifier that cannot decide must not let a packet through
        raise PacketRejected("signature-invalid", f"the signature could not be verified: {exc}", at) from exc
    try:
        return judge(policy, data, report, max_bytes)
    except PolicyRefusal as exc:
        raise PacketRejected("signature-invalid", exc.message, at, sub_indication=exc.sub) from None


def lane(key: str) -> str:
    """Outbox ordering keys are at most 200 characters; long DocumentIds are hashed (same id, same lane)."""
    return key if len(key) <= 200 else key[:120] + "#" + hashlib.sha256(key.encode()).hexdigest()
