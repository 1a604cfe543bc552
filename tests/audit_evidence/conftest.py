"""Real stores for the evidence tests: a SQLite file and a throw-away PostgreSQL database.

PostgreSQL tests skip when 127.0.0.1:5432 is unreachable, unless LGSP_REQUIRE_SERVICES=1 (CI), in
which case they fail: a silently skipped production store is worse than a red build.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from lgsp.audit.tree_store import AuditTreeNode
from lgsp.store.base import Base

PG_ADMIN_URL = os.environ.get("LGSP_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _create_tables(engine: Engine) -> None:
    Base.metadata.create_all(engine, tables=[AuditTreeNode.__table__])  # type: ignore[list-item]


@pytest.fixture(scope="session")
def pg_database_factory() -> Iterator[Callable[[], str]]:
    """Creates fresh databases lgsp_t_merkle_<random> on demand; all are dropped at session end."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    created: list[str] = []

    def create() -> str:
        name = f"lgsp_t_merkle_{secrets.token_hex(4)}"
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        except Exception as exc:
            reason = f"PostgreSQL at {PG_ADMIN_URL} is unreachable ({type(exc).__name__}: {exc})"
            if os.environ.get("LGSP_REQUIRE_SERVICES") == "1":
                pytest.fail(reason + " and LGSP_REQUIRE_SERVICES=1")
            pytest.skip(reason)
        created.append(name)
        return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"

    try:
        yield create
    finally:
        if created:
            with admin.connect() as conn:
                for name in created:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database(pg_database_factory: Callable[[], str]) -> str:
    """URL of a database for function-scoped tests (each empties its tables on teardown)."""
    return pg_database_factory()


def _engine(request: pytest.FixtureRequest, directory: Path, pg_fixture: str) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = create_engine(f"sqlite:///{directory / 'audit.db'}")
    else:
        pg = request.getfixturevalue(pg_fixture)
        eng = create_engine(pg() if callable(pg) else pg)
    _create_tables(eng)
    try:
        yield eng
    finally:
        Base.metadata.drop_all(eng, tables=[AuditTreeNode.__table__])  # type: ignore[list-item]
        eng.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine with an empty audit_tree_nodes table, on SQLite and on PostgreSQL."""
    yield from _engine(request, tmp_path, "pg_database")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_engine(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    """Like ``engine`` but shared by a module's tests: for read-only use (tamper copies, not the store)."""
    yield from _engine(request, tmp_path_factory.mktemp("audit"), "pg_database_factory")
