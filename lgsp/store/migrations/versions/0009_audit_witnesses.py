"""audit_cosignatures (witness cosignatures per head) and audit_key_events (key rotation/retirement notes)

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BIG = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "audit_cosignatures",
        sa.Column("tree_size", _BIG, primary_key=True, autoincrement=False),
        sa.Column("witness", sa.String(200), primary_key=True),
        sa.Column("line", sa.String(400), nullable=False),
        sa.Column("cosigned_at", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "audit_key_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("old_key_id", sa.String(64), nullable=False),
        sa.Column("new_key_id", sa.String(64), nullable=True),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(4000), nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_key_events")
    op.drop_table("audit_cosignatures")
