"""The declarative base of lgsp's tables: the registry's, re-exported.

The registry owns its tables and the base they share (registry/base.py), and lgsp depends on the registry,
never the reverse. Every lgsp table derives from the same ``Base`` so all of them live in one MetaData:
foreign keys from lgsp's tables to the registry's resolve, and Alembic sees one schema.
"""

from __future__ import annotations

from registry.base import NAMING_CONVENTION, Base

__all__ = ["NAMING_CONVENTION", "Base"]
