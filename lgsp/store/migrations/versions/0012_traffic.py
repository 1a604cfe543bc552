"""traffic policy: service_limits (declared), traffic_counters and traffic_slots (store backend state)

Revision ID: 0012
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "service_limits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service_id", sa.String(length=170), nullable=False),
        sa.Column("client", sa.String(length=100), nullable=False),
        sa.Column("rate_per_second", sa.Float(), nullable=True),
        sa.Column("burst", sa.Integer(), nullable=True),
        sa.Column("quota", sa.Integer(), nullable=True),
        sa.Column("quota_period", sa.String(length=10), nullable=True),
        sa.Column("concurrency", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["service_id"], ["services.id"], ondelete="CASCADE",
                                name=op.f("fk_service_limits_service_id_services")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_limits")),
        sa.UniqueConstraint("service_id", "client", name=op.f("uq_service_limits_service_id")),
    )
    op.create_index("ix_service_limits_service_id", "service_limits", ["service_id"])
    op.create_table(
        "traffic_counters",
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_traffic_counters")),
    )
    op.create_index("ix_traffic_counters_expires_at", "traffic_counters", ["expires_at"])
    op.create_table(
        "traffic_slots",
        sa.Column("token", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("token", name=op.f("pk_traffic_slots")),
    )
    op.create_index("ix_traffic_slots_key", "traffic_slots", ["key"])


def downgrade() -> None:
    op.drop_table("traffic_slots")
    op.drop_table("traffic_counters")
    op.drop_table("service_limits")
