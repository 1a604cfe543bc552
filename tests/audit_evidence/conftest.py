"""Real stores for the evidence tests: a SQLite file and a throw-away PostgreSQL database.

PostgreSQL tests skip when 127.0.0.1:5432 is unreachable, unless LGSP_REQUIRE_SERVICES=1 (CI), in
which case they fail: a silently skipped production store is worse than a red build.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from lgsp.audit.tree_store import AuditTreeNode
from lgsp.store.base import Base

PG_ADMIN_URL = os.environ.get("LGSP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _create_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=[AuditTreeNode.__table__])  # type: ignore[list-item]


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh database lgsp_t_merkle_<random>, dropped at the end of the session."""
    name = f"lgsp_t_merkle_{secrets.token_hex(4)}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        admin.dispose()
        reason = f"PostgreSQL at {PG_ADMIN_URL} is unreachable ({type(exc).__name__}: {exc})"
        if os.environ.get("LGSP_REQUIRE_SERVICES") == "1":
            pytest.fail(reason + " and LGSP_REQUIRE_SERVICES=1")
        pytest.skip(reason)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _engine(request: pytest.FixtureRequest, directory: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{directory / 'audit.db'}")
    else:
        eng = create_engine(request.getfixturevalue("pg_database"))
    _create_tables(eng)
    try:
        yield eng
    finally:
        Base.metadata.drop_all(eng, tables=[AuditTreeNode.__table__])  # type: ignore[list-item]
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with an empty audit_tree_nodes table, on SQLite and on PostgreSQL."""
    yield from _engine(request, tmp_path)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Like ``engine`` but shared by a module's tests: for read-only use (tamper copies, not the store)."""
    yield from _engine(request, tmp_path_factory.mktemp("audit"))
