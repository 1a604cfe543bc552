"""Imports every ORM model so `Base.metadata` is complete (for Alembic and for tests)."""

from lgsp.access import DossierOwner
from lgsp.audit.models import AuditBody, AuditEntry
from lgsp.auth.models import OAuthClient, SigningKey
from lgsp.delivery.models import DvcqgPush, OutboxMessage
from lgsp.store.base import Base
from registry.datasets import Dataset, DatasetSchedule
from registry.models import Agency, Grant, RegistryState, Service, System
from registry.object_grants import ObjectGrant

__all__ = [
    "Agency", "AuditBody", "AuditEntry", "Base", "Dataset", "DatasetSchedule", "DossierOwner", "DvcqgPush", "Grant",
    "OAuthClient", "ObjectGrant", "OutboxMessage", "RegistryState", "Service", "SigningKey", "System",
]
