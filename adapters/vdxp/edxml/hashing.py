"""Identifiers and transport hashes of packets (PROTOCOLS.md §1.2, §2.2)."""

from __future__ import annotations

import hashlib
from datetime import date

from .formats import format_date


def document_id(organ_id: str, promulgation_date: date, code_number: str, code_notation: str) -> str:
    """The sample-style DocumentId ``{senderOrganId},{yyyy/MM/dd},{number}/{notation}``.

    Real traffic also uses UUIDs; readers accept any non-empty string, this helper is for senders that
    want the form the samples use (e.g. ``000.00.00.G22,2015/09/30,7816/VPCP-TTĐT``).
    """
    if not organ_id or not code_number or not code_notation:
        raise ValueError("document_id needs an agency code, a number and a notation")
    return f"{organ_id},{format_date(promulgation_date)},{code_number}/{code_notation}"


def hash_file(packet: bytes) -> str:
    """Lowercase hex SHA-256 of the packet bytes, sent as the ``hash-file`` header of ``sendEdoc``."""
    return hashlib.sha256(packet).hexdigest()
