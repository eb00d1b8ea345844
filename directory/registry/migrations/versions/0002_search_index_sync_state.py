"""search index sync state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 14:14:28.682883
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
        "deleted_activities",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_deleted_activities")),
    )
    op.create_table(
        "index_state",
        sa.Column("index_key", sa.String(length=300), nullable=False),
        sa.Column("changed_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_seq", sa.Integer(), nullable=False),
        sa.Column("as_of_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("index_key", name=op.f("pk_index_state")),
    )
    with op.batch_alter_table("providers", schema=None) as batch_op:
        # Existing rows get the migration time: the next incremental sync re-reads them once.
        batch_op.add_column(
            sa.Column(
                "updated_at",
                sa.DateTime(timezone=True),
                nullable=False,
                server_default=sa.text("CURRENT_TIMESTAMP"),
            )
        )
        batch_op.create_index(batch_op.f("ix_providers_updated_at"), ["updated_at"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_providers_updated_at"))
        batch_op.drop_column("updated_at")

    op.drop_table("index_state")
    op.drop_table("deleted_activities")
