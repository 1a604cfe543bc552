"""Declarative base shared by every table: the registry's own and lgsp's (clients, audit, outbox, ...).

The registry owns its tables, so the base lives here, at the bottom; lgsp re-exports it as
``lgsp.store.base.Base`` and builds its tables on it. One MetaData with a naming convention for all of them:
foreign keys from lgsp's tables to the registry's resolve, and Alembic migrations get stable constraint
names on both SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import Engine, MetaData
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


#: Execution options of a transaction that writes. The registry writes through the engine its caller gives it
#: and asks for these on it (:func:`for_writing`); lgsp's store honours them (on SQLite such a transaction takes
#: the write lock at BEGIN, so a read-then-write waits its turn instead of failing "database is locked"; see
#: lgsp.store.db.writer, built from the same options); an engine that does not know them ignores them.
WRITE_OPTIONS = {"write_lock": True}


def for_writing(engine: Engine) -> Engine:
    """The same engine, its transactions marked as writing (idempotent)."""
    return engine.execution_options(**WRITE_OPTIONS)


class Base(DeclarativeBase):
    """Base class of every ORM model (the registry's and lgsp's)."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
