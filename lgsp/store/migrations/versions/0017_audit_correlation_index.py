"""audit_entries: an index on correlation_id (the console searches by message or correlation id)

Revision ID: 0017
Revises: 0010
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_entries_correlation_id", "audit_entries", ["correlation_id"])


def downgrade() -> None:
    op.drop_index("ix_audit_entries_correlation_id", table_name="audit_entries")
