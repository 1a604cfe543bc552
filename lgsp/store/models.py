"""Imports every ORM model so `Base.metadata` is complete (for Alembic and for tests)."""

from lgsp.access import DossierOwner
from lgsp.audit.models import AuditBody, AuditEntry
from lgsp.auth.models import OAuthClient, SigningKey
from lgsp.console.models import ConsoleOidcPending, ConsoleSession, ConsoleUser
from lgsp.delivery.models import DvcqgPush, OutboxMessage
from lgsp.store.base import Base
from lgsp.store.blobs import Blob
from lgsp.traffic.models import TrafficCounter, TrafficSlot
from registry.datasets import Dataset, DatasetSchedule
from registry.models import Agency, Grant, RegistryState, Service, ServiceLimit, System
from registry.object_grants import ObjectGrant

__all__ = [
    "Agency", "AuditBody", "AuditEntry", "Base", "Blob", "ConsoleOidcPending", "ConsoleSession", "ConsoleUser",
    "Dataset", "DatasetSchedule", "DossierOwner", "DvcqgPush", "Grant", "OAuthClient", "ObjectGrant",
    "OutboxMessage", "RegistryState", "Service", "ServiceLimit", "SigningKey", "System",
    "TrafficCounter", "TrafficSlot",
]
