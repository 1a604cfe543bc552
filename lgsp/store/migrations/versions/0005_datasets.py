"""datasets: open datasets in the registry (owner agency, source service, schema, rules, schedule)

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "datasets",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("title_vi", sa.String(length=500), nullable=False),
        sa.Column("title_en", sa.String(length=500), nullable=False),
        sa.Column("description_vi", sa.Text(), nullable=False),
        sa.Column("description_en", sa.Text(), nullable=False),
        sa.Column("owner_agency_code", sa.String(length=13), nullable=False),
        sa.Column("organization", sa.String(length=100), nullable=False),
        sa.Column("organization_title", sa.String(length=500), nullable=False),
        sa.Column("source_service_id", sa.String(length=170), nullable=False),
        sa.Column("source_path", sa.String(length=1000), nullable=False),
        sa.Column("source_format", sa.String(length=10), nullable=False),
        sa.Column("records_key", sa.String(length=100), nullable=True),
        sa.Column("table_schema", sa.JSON(), nullable=False),
        sa.Column("personal_fields", sa.JSON(), nullable=False),
        sa.Column("licence", sa.String(length=100), nullable=False),
        sa.Column("frequency", sa.String(length=50), nullable=False),
        sa.Column("schedule", sa.String(length=100), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column("spatial_code", sa.String(length=50), nullable=False),
        sa.Column("spatial_name", sa.String(length=300), nullable=False),
        sa.Column("contact_name", sa.String(length=300), nullable=False),
        sa.Column("contact_email", sa.String(length=300), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_agency_code"], ["agencies.code"],
                                name=op.f("fk_datasets_owner_agency_code_agencies")),
        sa.ForeignKeyConstraint(["source_service_id"], ["services.id"],
                                name=op.f("fk_datasets_source_service_id_services")),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_datasets")),
    )
    op.create_index("ix_datasets_owner_agency_code", "datasets", ["owner_agency_code"])
    op.create_index("ix_datasets_source_service_id", "datasets", ["source_service_id"])
    op.create_table(
        "dataset_schedule",
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("lease_token", sa.String(length=64), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_id", sa.String(length=64), nullable=True),
        sa.Column("last_outcome", sa.String(length=30), nullable=True),
        sa.Column("last_audit_index", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["slug"], ["datasets.slug"], name=op.f("fk_dataset_schedule_slug_datasets"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("slug", name=op.f("pk_dataset_schedule")),
    )


def downgrade() -> None:
    op.drop_table("dataset_schedule")
    op.drop_index("ix_datasets_source_service_id", table_name="datasets")
    op.drop_index("ix_datasets_owner_agency_code", table_name="datasets")
    op.drop_table("datasets")
