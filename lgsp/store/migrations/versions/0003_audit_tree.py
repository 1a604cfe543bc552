"""audit Merkle tree: node table (backfilled from existing entries), signed heads, log keys

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:40:00

The backfill integrates the ``leaf_hash`` of every existing entry, in index order, exactly as the
writer would have (``lgsp.audit.merkle.extend_frontier``), streaming so memory stays O(log n).
`lgsp audit verify` afterwards recomputes leaves from the entries and checks the stored nodes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from lgsp.audit.merkle import extend_frontier

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def upgrade() -> None:
    nodes = op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("idx", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_heads",
        sa.Column("tree_size", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False,
                  nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("timestamp", sa.String(length=32), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("tsa_token", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_audit_heads")),
    )
    op.create_table(
        "audit_log_keys",
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.String(length=32), nullable=False),
        sa.Column("retired_at", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_audit_log_keys")),
    )
    _backfill(nodes)


def _backfill(nodes: sa.Table) -> None:
    bind = op.get_bind()
    entries = sa.table("audit_entries", sa.column("idx", sa.BigInteger()), sa.column("leaf_hash", sa.LargeBinary()))
    frontier: dict[int, bytes] = {}
    size = 0
    after = -1
    while True:
        rows = bind.execute(
            sa.select(entries.c.idx, entries.c.leaf_hash).where(entries.c.idx > after)
            .order_by(entries.c.idx).limit(_BATCH)
        ).all()
        if not rows:
            return
        for row in rows:
            if row.idx != size:
                raise RuntimeError(f"audit entry {size} is missing (found {row.idx}); run `lgsp audit verify`")
            size += 1
        new = extend_frontier(frontier, rows[0].idx, [bytes(r.leaf_hash) for r in rows])
        bind.execute(nodes.insert(), [{"level": lv, "idx": ix, "hash": h} for lv, ix, h in new])
        after = rows[-1].idx


def downgrade() -> None:
    op.drop_table("audit_log_keys")
    op.drop_table("audit_heads")
    op.drop_table("audit_tree_nodes")
