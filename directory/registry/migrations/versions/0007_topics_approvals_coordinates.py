"""mandated topics, state approvals, and coordinates of an activity's places

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-15 12:00:00.000000

Topic tags and approvals are JSON lists on the activity (read only with it, like its
keywords); an existing activity has none (an empty list, not NULL, so no reader needs a
case for it). Latitude and longitude, on activities and occurrences, are the provider's own
when it sends them; NULL means "locate it from the city" at index time.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column("topics", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch_op.add_column(
            sa.Column("approvals", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("approvals")
        batch_op.drop_column("topics")
        batch_op.drop_column("longitude")
        batch_op.drop_column("latitude")
