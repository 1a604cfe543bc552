"""DVCQG (Cổng Dịch vụ công quốc gia) adapter: models, status mapping, client, sync service, simulator.

The public API is re-exported here; the submodules are one concept each (``models``, ``status_mapping``,
``client``, ``transport``, ``sync``, ``simulator``). See docs/dvcqg.md for the protocol facts and their
certainty tags.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lgsp.sdk.lazy import lazy_exports

if TYPE_CHECKING:
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

# The names load with their submodule on first use: the entry point (adapters.dvcqg.adapter) imports this
# package, and `lgsp --help` must not pay for the client's aiohttp and the models' pydantic.
_SUBMODULE = {
    "AiohttpTransport": "transport",
    "DossierEvent": "sync",
    "DossierRecord": "models",
    "DossierSyncService": "sync",
    "DossierValidationError": "errors",
    "DvcqgAuthenticationError": "errors",
    "DvcqgClient": "client",
    "DvcqgError": "errors",
    "DvcqgProtocolError": "errors",
    "DvcqgReply": "client",
    "DvcqgServiceError": "errors",
    "DvcqgSessionError": "errors",
    "DvcqgSettings": "client",
    "DvcqgUnavailableError": "errors",
    "FieldProblem": "errors",
    "HinhThuc": "codes",
    "HttpReply": "transport",
    "InMemoryPushLedger": "sync",
    "LoaiDoiTuong": "codes",
    "ProgressRecord": "models",
    "PushLedger": "sync",
    "StatusMapping": "status_mapping",
    "StatusMappingError": "errors",
    "SyncResult": "sync",
    "TrangThaiHoSo": "codes",
    "Transport": "transport",
    "UnknownLocalStatusError": "errors",
    "decode_is_updating": "codes",
    "encode_is_updating": "codes",
    "format_timestamp": "dates",
    "parse_timestamp": "dates",
    "validate_dossier": "models",
    "validate_progress": "models",
}


__getattr__ = lazy_exports(__name__, _SUBMODULE, globals())


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
