"""A migrated store per backend (SQLite file, fresh PostgreSQL database) and a small receiver app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database


def database_url(backend: str, tmp: Path) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp / 'lgsp.db'}"
    return create_database("lgsp_t_delivery")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(backend: str, tmp_path: Path) -> Iterator[str]:
    url = database_url(backend, tmp_path)
    yield url
    if backend == "postgresql":
        drop_database(url)


@pytest.fixture
def engine(store_url: str) -> Iterator[Engine]:
    engine = make_engine(store_url)
    upgrade(engine)
    yield engine
    engine.dispose()
