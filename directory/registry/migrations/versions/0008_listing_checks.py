"""what the rules found in each activity: the provider dashboard's counts

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-20 12:00:00.000000

Three tables of derived facts, never edited by hand: they start empty, and
`directory.registry.standing.refresh` fills them (the next `directory sync` or `directory
index`, or a provider's first look at its dashboard). Each row goes with its activity (ON
DELETE CASCADE).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVITY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _activity_fk(name: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["activity_id"],
        ["activities.id"],
        name=op.f(f"fk_{name}_activity_id_activities"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.create_index(
        "ix_activities_provider_id_id_updated_at",
        "activities",
        ["provider_id", "id", "updated_at"],
    )
    op.create_table(
        "listing_checks",
        sa.Column("activity_id", ACTIVITY_ID, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("has_missing", sa.Boolean(), nullable=False),
        sa.Column("has_invalid", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("show_in_directory", sa.Boolean(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        _activity_fk("listing_checks"),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_listing_checks")),
    )
    op.create_index(
        "ix_listing_checks_provider_id", "listing_checks", ["provider_id", "activity_id"]
    )
    op.create_table(
        "registration_checks",
        sa.Column("activity_id", ACTIVITY_ID, nullable=False),
        sa.Column("board", sa.String(length=20), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("complete", sa.Boolean(), nullable=False),
        sa.Column("claim_deadline", sa.Date(), nullable=True),
        _activity_fk("registration_checks"),
        sa.PrimaryKeyConstraint("activity_id", "board", name=op.f("pk_registration_checks")),
    )
    op.create_index(
        "ix_registration_checks_provider_id_board",
        "registration_checks",
        ["provider_id", "board"],
    )
    op.create_table(
        "check_gaps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", ACTIVITY_ID, nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("board", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("item", sa.String(length=200), nullable=False),
        _activity_fk("check_gaps"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_gaps")),
    )
    op.create_index(op.f("ix_check_gaps_activity_id"), "check_gaps", ["activity_id"])
    op.create_index(
        "ix_check_gaps_provider_id_board_item",
        "check_gaps",
        ["provider_id", "board", "kind", "item"],
    )


def downgrade() -> None:
    op.drop_index("ix_check_gaps_provider_id_board_item", table_name="check_gaps")
    op.drop_index(op.f("ix_check_gaps_activity_id"), table_name="check_gaps")
    op.drop_table("check_gaps")
    op.drop_index("ix_registration_checks_provider_id_board", table_name="registration_checks")
    op.drop_table("registration_checks")
    op.drop_index("ix_listing_checks_provider_id", table_name="listing_checks")
    op.drop_table("listing_checks")
    op.drop_index("ix_activities_provider_id_id_updated_at", table_name="activities")
