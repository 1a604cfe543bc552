"""Fresh PostgreSQL databases for tests, and the skip-or-fail rule for missing services.

Tests that need a service skip with a clear reason only when it is truly absent; CI sets
`LGSP_REQUIRE_SERVICES=1`, which turns that skip into a failure so CI always runs them.
"""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get("LGSP_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def services_required() -> bool:
    return os.environ.get("LGSP_REQUIRE_SERVICES", "") not in {"", "0", "false", "no"}


def missing_service(reason: str) -> None:
    """Skip the test, or fail it when services are required (CI)."""
    if services_required():
        pytest.fail(f"required service missing (LGSP_REQUIRE_SERVICES=1): {reason}")
    pytest.skip(reason)


def create_database(prefix: str = "lgsp_t") -> str:
    """Create an empty database and return its URL (psycopg 3 driver)."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine.dispose()
    except Exception as exc:  # connection refused, auth failure, ...
        missing_service(f"PostgreSQL at {ADMIN_URL} is not reachable: {type(exc).__name__}: {exc}")
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()
