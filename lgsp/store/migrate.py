"""Apply Alembic migrations (on start and by `lgsp db upgrade`) and tell whether the store is current.

Every start of `lgsp serve`, `lgsp worker` and most commands asks "is the store at head?". Alembic answers
that after importing itself, Mako and every ORM model (~1 s of CPU), so the common case — a store already at
head — is answered here without it: the head comes from the `revision` / `down_revision` assignments in the
migration files (read once per process), the store's revision from the `alembic_version` table. Alembic
runs only when they differ, or when the files cannot be read that simply (then Alembic decides as before).
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from lgsp.store.wait_bound import unbounded_waits

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
# Serialises concurrent `upgrade` calls of several gateway processes on PostgreSQL.
_MIGRATION_LOCK_ID = 0x6C677370  # "lgsp"


def alembic_config(url: str = "") -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store to ``revision``; a store already at head costs one query (no Alembic import)."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    config = alembic_config()
    with engine.begin() as connection, unbounded_waits(connection):  # a serving process's bound is not for this
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


@cache
def declared_head() -> str | None:
    """The single head of the migration files' revision graph, or None when it is not plain to read.

    None (a merge, several heads, a non-literal assignment) sends the caller to Alembic, which knows all
    the cases; the files do not change while a process runs, hence the cache.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values: dict[str, object] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target: ast.expr
            if isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    return None
        revision, down = values.get("revision"), values.get("down_revision")
        if not isinstance(revision, str):
            return None
        revisions.add(revision)
        if isinstance(down, str):
            parents.add(down)
        elif isinstance(down, tuple | list):
            parents.update(str(d) for d in down)
        elif down is not None:
            return None
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def head_revision() -> str | None:
    head = declared_head()
    if head is not None:
        return head
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def _stored_revisions(engine: Engine) -> set[str] | None:
    """The revisions recorded in the store, or None when it has no version table yet."""
    try:
        with engine.connect() as connection:
            return {row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))}
    except DBAPIError:
        return None


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def is_current(engine: Engine) -> bool:
    head = declared_head()
    if head is None:
        return current_revision(engine) == head_revision()
    return _stored_revisions(engine) == {head}
