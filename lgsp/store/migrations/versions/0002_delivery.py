"""delivery: outbox (durable store-and-forward) and the DVCQG push ledger

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=100), nullable=False),
        sa.Column("destination", sa.String(length=2000), nullable=True),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("content_type", sa.String(length=200), nullable=False),
        sa.Column("payload_sha256", sa.String(length=64), nullable=False),
        sa.Column("request_sha256", sa.String(length=64), nullable=False),
        sa.Column("ordering_key", sa.String(length=200), nullable=True),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_token", sa.String(length=32), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("remote_id", sa.String(length=200), nullable=True),
        sa.Column("audit_index", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("state IN ('pending', 'in_flight', 'delivered', 'dead')", name=op.f("ck_outbox_state")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name="uq_outbox_message_id"),
        sa.UniqueConstraint("client_id", "idempotency_key", name="uq_outbox_client_idempotency"),
    )
    op.create_index("ix_outbox_due", "outbox", ["state", "next_attempt_at"])
    op.create_index("ix_outbox_ordering", "outbox", ["ordering_key", "seq"])
    op.create_index("ix_outbox_kind_state", "outbox", ["kind", "state"])
    op.create_table(
        "dvcqg_pushes",
        sa.Column("ma_ho_so", sa.String(length=100), nullable=False),
        sa.Column("first_pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_pushed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pushes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ma_ho_so", name=op.f("pk_dvcqg_pushes")),
    )


def downgrade() -> None:
    op.drop_table("dvcqg_pushes")
    op.drop_index("ix_outbox_kind_state", table_name="outbox")
    op.drop_index("ix_outbox_ordering", table_name="outbox")
    op.drop_index("ix_outbox_due", table_name="outbox")
    op.drop_table("outbox")
