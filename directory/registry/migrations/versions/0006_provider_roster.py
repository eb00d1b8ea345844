"""provider roster: the accreditor's id for each provider, and a contact e-mail

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 12:00:00.000000

Both columns are nullable: providers made before the roster have no accreditor's id until
`directory providers update ID --provider-id ...` (or a roster import) gives them one. The
unique constraint is named by the models' naming convention, and added in batch mode, so
SQLite (which rebuilds the table for it) and PostgreSQL (ALTER TABLE) end up alike.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("accreditor_id", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("contact_email", sa.String(length=254), nullable=True))
        batch_op.create_unique_constraint(
            batch_op.f("uq_providers_accreditor_id"), ["accreditor_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("providers", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_providers_accreditor_id"), type_="unique")
        batch_op.drop_column("contact_email")
        batch_op.drop_column("accreditor_id")
