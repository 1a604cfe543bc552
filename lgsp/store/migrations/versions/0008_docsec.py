"""docsec: object grants (documents/dossiers of an agency), dossier owners, dataset publishers

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 19:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "object_grants",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_system_id", sa.String(length=100), nullable=False),
        sa.Column("objects", sa.String(length=20), nullable=False),
        sa.Column("agency_code", sa.String(length=13), nullable=False),
        sa.ForeignKeyConstraint(["client_system_id"], ["systems.id"]),
        sa.ForeignKeyConstraint(["agency_code"], ["agencies.code"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("client_system_id", "objects", "agency_code"),
    )
    op.create_index("ix_object_grants_client_system_id", "object_grants", ["client_system_id"])
    op.create_index("ix_object_grants_agency_code", "object_grants", ["agency_code"])
    op.create_table(
        "dossier_owners",
        sa.Column("ma_ho_so", sa.String(length=200), nullable=False),
        sa.Column("agency_code", sa.String(length=40), nullable=False),
        sa.Column("system_id", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("ma_ho_so"),
    )
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(sa.Column("publisher_system_id", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("publisher_system_id")
    op.drop_table("dossier_owners")
    op.drop_index("ix_object_grants_agency_code", table_name="object_grants")
    op.drop_index("ix_object_grants_client_system_id", table_name="object_grants")
    op.drop_table("object_grants")
