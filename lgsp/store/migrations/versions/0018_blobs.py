"""blobs: packets in a side table written once; documents.packet -> packet_blob, outbox.payload_blob

Existing documents' packets move to ``blobs`` (blob id = document id); an outgoing document's outbox
row (same id) then references that blob instead of holding a second copy. Other outbox payloads stay
inline.

Revision ID: 0018
Revises: 0016
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),  # last: the other columns read without it
    )
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("packet_blob", sa.String(36), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("payload_blob", sa.String(36), nullable=True))
        batch.alter_column("payload", existing_type=sa.LargeBinary(), nullable=True)
    op.execute("INSERT INTO blobs (id, sha256, size, created_at, data) "
               "SELECT id, packet_sha256, size, created_at, packet FROM documents")
    op.execute("UPDATE documents SET packet_blob = id")
    op.execute("UPDATE outbox SET payload_blob = message_id, payload = NULL WHERE message_id IN "
               "(SELECT id FROM documents WHERE direction = 'out') AND payload_sha256 = "
               "(SELECT packet_sha256 FROM documents WHERE documents.id = outbox.message_id)")
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("packet_blob", existing_type=sa.String(36), nullable=False)
        batch.drop_column("packet")


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("packet", sa.LargeBinary(), nullable=True))
    op.execute("UPDATE documents SET packet = (SELECT data FROM blobs WHERE blobs.id = documents.packet_blob)")
    op.execute("UPDATE outbox SET payload = (SELECT data FROM blobs WHERE blobs.id = outbox.payload_blob) "
               "WHERE payload_blob IS NOT NULL")
    with op.batch_alter_table("documents") as batch:
        batch.alter_column("packet", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("packet_blob")
    with op.batch_alter_table("outbox") as batch:
        batch.alter_column("payload", existing_type=sa.LargeBinary(), nullable=False)
        batch.drop_column("payload_blob")
    op.drop_table("blobs")
