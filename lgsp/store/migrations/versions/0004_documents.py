"""documents: the edXML document façade (packets in and out), the axis agency directory, rejected packets

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=6), nullable=False),
        sa.Column("agency", sa.String(length=13), nullable=False),
        sa.Column("sender", sa.String(length=13), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("document_id", sa.String(length=500), nullable=False),
        sa.Column("code", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("status_code", sa.String(length=2), nullable=True),
        sa.Column("packet", sa.LargeBinary(), nullable=False),
        sa.Column("packet_sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("client_id", sa.String(length=100), nullable=True),
        sa.Column("axis_doc_id", sa.String(length=200), nullable=True),
        sa.Column("dedup_key", sa.String(length=80), nullable=True),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("dms_status", sa.String(length=12), nullable=True),
        sa.Column("deviations", sa.JSON(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=True),
        sa.Column("audit_index", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("axis_doc_id", name="uq_documents_axis_doc_id"),
        sa.UniqueConstraint("dedup_key", name="uq_documents_dedup_key"),
    )
    op.create_index("ix_documents_agency", "documents", ["agency", "direction", "created_at"])
    op.create_index("ix_documents_document_id", "documents", ["document_id"])
    op.create_table(
        "axis_agencies",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("pid", sa.String(length=40), nullable=False),
        sa.Column("mail", sa.String(length=200), nullable=False),
        sa.Column("code102", sa.String(length=40), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_axis_agencies")),
    )
    op.create_table(
        "documents_rejected",
        sa.Column("axis_doc_id", sa.String(length=200), nullable=False),
        sa.Column("agency", sa.String(length=13), nullable=False),
        sa.Column("sender", sa.String(length=40), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("packet", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("axis_doc_id", name=op.f("pk_documents_rejected")),
    )


def downgrade() -> None:
    op.drop_table("documents_rejected")
    op.drop_table("axis_agencies")
    op.drop_index("ix_documents_document_id", table_name="documents")
    op.drop_index("ix_documents_agency", table_name="documents")
    op.drop_table("documents")
