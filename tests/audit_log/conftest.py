"""A migrated lgsp store per backend (SQLite file, throw-away PostgreSQL database) and a log key in tmp.

Every test gets real tables created by the Alembic migrations (so 0003 is exercised too) and a
freshly generated Ed25519 log key that lives only in the test's temporary directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from lgsp.audit.heads import HeadService
from lgsp.audit.writer import write_batch
from lgsp.settings import Settings
from lgsp.store.db import make_engine
from lgsp.store.migrate import upgrade
from lgsp.testing.postgres import create_database, drop_database


@dataclass
class Store:
    backend: str
    url: str
    engine: Engine
    settings: Settings
    heads: HeadService

    def write(self, count: int, start_time: datetime | None = None, **fields: Any) -> list[int]:
        """Append ``count`` entries in one batch (the writer's real path), bodies kept."""
        return write_batch(self.engine, entries(count, start_time, **fields), [(b"req", b"resp")] * count)


def entries(count: int, start_time: datetime | None = None, **fields: Any) -> list[dict[str, Any]]:
    when = start_time or datetime.now(UTC)
    out = []
    for n in range(count):
        entry = {"time": when + timedelta(microseconds=n), "message_id": f"msg-{when.timestamp()}-{n}",
                 "client": "000.00.12.H10/MOTCUA", "service": "000.00.31.H10/QLVB/van-ban", "method": "GET",
                 "path": f"/items/{n}", "user_id": f"user-{n % 3}", "status": 200 if n % 4 else 404,
                 "latency_us": 1000 + n, "request_sha256": None, "response_sha256": "ab" * 32, "extra": {}}
        entry.update(fields)
        out.append(entry)
    return out


def make_settings(url: str, tmp: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {"database_url": url, "audit_log_key_file": str(tmp / "keys" / "log-key.pem"),
                              "audit_head_every_entries": 100, "audit_head_every_seconds": 3600.0,
                              "access_log": False}
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'audit.db'}" if request.param == "sqlite" else create_database("lgsp_t_auditlog")
    engine = make_engine(url)
    upgrade(engine)
    settings = make_settings(url, tmp_path)
    try:
        yield Store(request.param, url, engine, settings, HeadService(engine, settings))
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_database(url)
