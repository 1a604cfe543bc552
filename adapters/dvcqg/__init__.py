"""DVCQG (Cổng Dịch vụ công quốc gia) adapter: models, status mapping, client, sync service, simulator.

The public API is re-exported here; the submodules are one concept each (``models``, ``status_mapping``,
``client``, ``transport``, ``sync``, ``simulator``). See docs/dvcqg.md for the protocol facts and their
certainty tags.
"""

from .client import DvcqgClient, DvcqgReply, DvcqgSettings
from .codes import HinhThuc, LoaiDoiTuong, TrangThaiHoSo, decode_is_updating, encode_is_updating
from .dates import format_timestamp, parse_timestamp
from .errors import (
    DossierValidationError,
    DvcqgAuthenticationError,
    DvcqgError,
    DvcqgProtocolError,
    DvcqgServiceError,
    DvcqgSessionError,
    DvcqgUnavailableError,
    FieldProblem,
    StatusMappingError,
    UnknownLocalStatusError,
)
from .models import DossierRecord, ProgressRecord, validate_dossier, validate_progress
from .status_mapping import StatusMapping
from .sync import DossierEvent, DossierSyncService, InMemoryPushLedger, PushLedger, SyncResult
from .transport import AiohttpTransport, HttpReply, Transport

__all__ = [
    "AiohttpTransport",
    "DossierEvent",
    "DossierRecord",
    "DossierSyncService",
    "DossierValidationError",
    "DvcqgAuthenticationError",
    "DvcqgClient",
    "DvcqgError",
    "DvcqgProtocolError",
    "DvcqgReply",
    "DvcqgServiceError",
    "DvcqgSessionError",
    "DvcqgSettings",
    "DvcqgUnavailableError",
    "FieldProblem",
    "HinhThuc",
    "HttpReply",
    "InMemoryPushLedger",
    "LoaiDoiTuong",
    "ProgressRecord",
    "PushLedger",
    "StatusMapping",
    "StatusMappingError",
    "SyncResult",
    "TrangThaiHoSo",
    "Transport",
    "UnknownLocalStatusError",
    "decode_is_updating",
    "encode_is_updating",
    "format_timestamp",
    "parse_timestamp",
    "validate_dossier",
    "validate_progress",
]
