"""systems.client_cert_sha256: client certificates a system is bound to (mTLS, issue 17.7)

Revision ID: 0016
Revises: 0017
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0017"  # brief said "0006"; chained after main's head 0017 (integrator may re-chain)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.add_column(sa.Column("client_cert_sha256", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("systems") as batch:
        batch.drop_column("client_cert_sha256")
