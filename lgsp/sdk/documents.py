"""What a document-axis adapter may use from the official-document façade (``AdapterInfo.document_axis``).

The adapter implements :class:`DocumentAxis` (reading its packet format into :class:`PacketFacts`,
where to send an accepted packet, receiving); the core keeps the tables, the signature policy and
object access. Incoming packets are stored with :func:`keep_incoming` (exactly once, with their audit
entry), refused ones with :func:`keep_rejected`; :func:`receiving_agencies` says for whom the registry
lets lgsp receive, and :func:`replace_directory` keeps the agency directory the façade checks
recipients against.
"""

from __future__ import annotations

from lgsp.access import receiving_agencies
from lgsp.delivery.drain import deliver_until_done
from lgsp.documents.packets import (
    DEFAULT_MAX_PACKET_BYTES,
    PacketFacts,
    PacketRejected,
    SignatureHook,
    check_signature,
    check_storable,
    lane,
    load_hook,
    max_packet_bytes,
    signature_policy,
)
from lgsp.documents.port import AxisNotConfigured, DocumentAxis
from lgsp.documents.store import (
    Kept,
    already_kept,
    keep_incoming,
    keep_rejected,
    rejected_packets,
    replace_directory,
)
from lgsp.store.wait_bound import describe as describe_failure
from lgsp.store.wait_bound import is_store_wait
from lgsp.xml_limits import entry_limits

__all__ = [
    "DEFAULT_MAX_PACKET_BYTES",
    "AxisNotConfigured",
    "DocumentAxis",
    "Kept",
    "PacketFacts",
    "PacketRejected",
    "SignatureHook",
    "already_kept",
    "check_signature",
    "check_storable",
    "deliver_until_done",
    "describe_failure",
    "entry_limits",
    "is_store_wait",
    "keep_incoming",
    "keep_rejected",
    "lane",
    "load_hook",
    "max_packet_bytes",
    "receiving_agencies",
    "rejected_packets",
    "replace_directory",
    "signature_policy",
]
