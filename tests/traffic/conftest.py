"""Counter backends on every store: memory, SQLite file, a fresh PostgreSQL database, Redis at 127.0.0.1:6379."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database, missing_service
from lgsp.traffic.backends import MemoryBackend, RedisBackend, StoreBackend, TrafficBackend

REDIS_URL = os.environ.get("LGSP_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_url_or_skip() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception as exc:
        missing_service(f"Redis at {REDIS_URL} is not reachable: {type(exc).__name__}: {exc}")
    return REDIS_URL


def store_engine(kind: str, tmp: Path) -> tuple[Engine, str]:
    url = f"sqlite:///{tmp / 'traffic.db'}" if kind == "sqlite" else create_database("lgsp_t_traffic")
    engine = make_engine(url)
    upgrade(engine)
    return engine, url


@pytest.fixture(params=["memory", "sqlite", "postgresql", "redis"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[TrafficBackend]:
    kind = str(request.param)
    if kind == "memory":
        yield MemoryBackend()
    elif kind == "redis":
        yield RedisBackend(redis_url_or_skip())
    else:
        engine, url = store_engine(kind, tmp_path)
        yield StoreBackend(engine)
        engine.dispose()
        if kind == "postgresql":
            drop_database(url)


def unique_key(label: str) -> str:
    """Keys that never collide between runs (Redis keeps state across tests)."""
    return f"test:{label}:{secrets.token_hex(6)}"
