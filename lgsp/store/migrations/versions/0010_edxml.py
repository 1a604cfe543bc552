"""document_links: revocations / updates / replacements and the edXML DocumentIds they act on;
documents.agency/sender widened to 40 characters for the real identifier forms (vxp.saas.NN, ...)

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "document_links",
        sa.Column("document", sa.String(length=36), nullable=False),
        sa.Column("relation", sa.String(length=12), nullable=False),
        sa.Column("target_document_id", sa.String(length=500), nullable=False),
        sa.Column("agency", sa.String(length=40), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("document", "relation", "target_document_id", name=op.f("pk_document_links")),
    )
    op.create_index("ix_document_links_target", "document_links", ["agency", "target_document_id"])
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("agency", type_=sa.String(length=40), existing_type=sa.String(length=13),
                           existing_nullable=False)
        batch.alter_column("sender", type_=sa.String(length=40), existing_type=sa.String(length=13),
                           existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("sender", type_=sa.String(length=13), existing_type=sa.String(length=40),
                           existing_nullable=False)
        batch.alter_column("agency", type_=sa.String(length=13), existing_type=sa.String(length=40),
                           existing_nullable=False)
    op.drop_index("ix_document_links_target", table_name="document_links")
    op.drop_table("document_links")
