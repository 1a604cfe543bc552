"""Stores for the insider-tampering tests: the same migrated SQLite/PostgreSQL stores as tests/audit_log."""

from __future__ import annotations

from tests.audit_log.conftest import Store, store

__all__ = ["Store", "store"]
