"""initial registry schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-22 14:01:31.119601
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "providers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("accreditation_status", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("state", sa.String(length=60), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("url", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
    )
    op.create_table(
        "activities",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("provider_activity_id", sa.String(length=100), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("format", sa.String(length=60), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("objectives", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("specialties", sa.JSON(), nullable=False),
        sa.Column("delivery", sa.String(length=20), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("state", sa.String(length=60), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("cme_credits", sa.Float(), nullable=True),
        sa.Column("providership", sa.String(length=10), nullable=True),
        sa.Column("joint_provider", sa.String(length=300), nullable=True),
        sa.Column("show_in_directory", sa.Boolean(), nullable=False),
        sa.Column("fee_cents", sa.Integer(), nullable=True),
        sa.Column("registration", sa.String(length=20), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("mips", sa.Boolean(), nullable=False),
        sa.Column("completions_reported", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["provider_id"], ["providers.id"], name=op.f("fk_activities_provider_id_providers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.UniqueConstraint(
            "provider_id",
            "provider_activity_id",
            name=op.f("uq_activities_provider_id_provider_activity_id"),
        ),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activities_provider_id"), ["provider_id"], unique=False
        )
        batch_op.create_index("ix_activities_updated_at_id", ["updated_at", "id"], unique=False)

    op.create_table(
        "moc_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("board", sa.String(length=20), nullable=False),
        sa.Column("practice_areas", sa.JSON(), nullable=False),
        sa.Column("credit_types", sa.JSON(), nullable=False),
        sa.Column("points", sa.Float(), nullable=True),
        sa.Column("content_areas", sa.JSON(), nullable=False),
        sa.Column("claim_deadline", sa.Date(), nullable=True),
        sa.Column("attested", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_moc_registrations_activity_id_activities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_moc_registrations")),
        sa.UniqueConstraint(
            "activity_id", "board", name=op.f("uq_moc_registrations_activity_id_board")
        ),
    )
    with op.batch_alter_table("moc_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_moc_registrations_activity_id"), ["activity_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_moc_registrations_board"), ["board"], unique=False)

    op.create_table(
        "occurrences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("venue", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=120), nullable=True),
        sa.Column("state", sa.String(length=60), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_occurrences_activity_id_activities")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_occurrences")),
    )
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_occurrences_activity_id"), ["activity_id"], unique=False
        )

    op.create_table(
        "rems_registrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "activity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("program", sa.String(length=100), nullable=False),
        sa.Column("rpc_id", sa.String(length=100), nullable=True),
        sa.Column("attested", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["activity_id"],
            ["activities.id"],
            name=op.f("fk_rems_registrations_activity_id_activities"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rems_registrations")),
        sa.UniqueConstraint(
            "activity_id", "program", name=op.f("uq_rems_registrations_activity_id_program")
        ),
    )
    with op.batch_alter_table("rems_registrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rems_registrations_activity_id"), ["activity_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("rems_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rems_registrations_activity_id"))

    op.drop_table("rems_registrations")
    with op.batch_alter_table("occurrences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_occurrences_activity_id"))

    op.drop_table("occurrences")
    with op.batch_alter_table("moc_registrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_moc_registrations_board"))
        batch_op.drop_index(batch_op.f("ix_moc_registrations_activity_id"))

    op.drop_table("moc_registrations")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index("ix_activities_updated_at_id")
        batch_op.drop_index(batch_op.f("ix_activities_provider_id"))

    op.drop_table("activities")
    op.drop_table("providers")
