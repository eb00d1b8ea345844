"""The registry: providers, their activities, and each activity's board, REMS and MIPS registrations.

Lists that belong to one row and are only ever read with it (objectives, practice areas of one
board registration, ...) are JSON columns: they round-trip on SQLite and PostgreSQL alike and
keep a 100,000-activity load to a few inserts per activity.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    event,
    insert,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


# Named constraints so Alembic migrations behave the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[str]: JSON}


class Provider(Base):
    __tablename__ = "providers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    # The accreditor's own id for the provider: how a roster file finds the provider it updates.
    accreditor_id: Mapped[str | None] = mapped_column(String(40), unique=True)
    accreditation_status: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str | None] = mapped_column(String(60))
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(60))
    country: Mapped[str | None] = mapped_column(String(2))
    url: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # A change here (say, accreditation lost) changes every one of its listings: the
    # incremental indexer re-reads the provider's activities when this moves.
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow, index=True
    )

    activities: Mapped[list[Activity]] = relationship(back_populates="provider")


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (
        # The provider's own id is how re-uploads find the activity they update.
        UniqueConstraint("provider_id", "provider_activity_id"),
        # The incremental indexer reads "what changed since" in this order.
        Index("ix_activities_updated_at_id", "updated_at", "id"),
        # A provider's activities changed since their check (`standing`), from the index alone.
        Index("ix_activities_provider_id_id_updated_at", "provider_id", "id", "updated_at"),
    )

    # The registry's numeric activity id (e.g. 210016939), shown to physicians and providers.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    provider_activity_id: Mapped[str] = mapped_column(String(100))

    title: Mapped[str] = mapped_column(String(500))
    format: Mapped[str] = mapped_column(String(60))
    start_date: Mapped[date | None] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20), default="Draft")

    description: Mapped[str | None] = mapped_column(Text)
    objectives: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    # Broad specialties the activity is meant for ("Physical Medicine and Rehabilitation"): how
    # it is found for a board that has no registration program of its own.
    specialties: Mapped[list[str]] = mapped_column(default=list)
    delivery: Mapped[str | None] = mapped_column(String(20))
    # Where it happens when in person; each occurrence may carry its own place too.
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(60))
    country: Mapped[str | None] = mapped_column(String(2))
    # Where it is, when the provider says so; otherwise located from city, state and country
    # at index time (`directory.registry.places`).
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    cme_credits: Mapped[float | None] = mapped_column(Float)
    providership: Mapped[str | None] = mapped_column(String(10))
    joint_provider: Mapped[str | None] = mapped_column(String(300))

    # Public directory listing.
    show_in_directory: Mapped[bool] = mapped_column(Boolean, default=False)
    # In cents, so that sums and comparisons are exact; 0 means free.
    fee_cents: Mapped[int | None] = mapped_column(Integer)
    registration: Mapped[str | None] = mapped_column(String(20))
    url: Mapped[str | None] = mapped_column(String(1000))

    mips: Mapped[bool] = mapped_column(Boolean, default=False)
    # Mandated topics the provider says the activity covers (codes of mandate_topics.toml):
    # the provider's own claim, which a state mandate matches on.
    topics: Mapped[list[str]] = mapped_column(default=list)
    # Approvals of the course by a state (or agency) that counts only approved courses, as
    # {"body": approver code, "id": the approval's id}: a separate fact from the tags, given by
    # the provider, never inferred from them.
    approvals: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    # Learner completions reported; once there are any, the activity cannot be deleted.
    completions_reported: Mapped[int] = mapped_column(Integer, default=0)

    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )

    provider: Mapped[Provider] = relationship(back_populates="activities")
    occurrences: Mapped[list[Occurrence]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="Occurrence.start_date"
    )
    moc: Mapped[list[MocRegistration]] = relationship(
        back_populates="activity", cascade="all, delete-orphan", order_by="MocRegistration.board"
    )
    rems: Mapped[list[RemsRegistration]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )


class Occurrence(Base):
    """One date and place of an activity that is given more than once."""

    __tablename__ = "occurrences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    venue: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(120))
    state: Mapped[str | None] = mapped_column(String(60))
    country: Mapped[str | None] = mapped_column(String(2))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)

    activity: Mapped[Activity] = relationship(back_populates="occurrences")


class MocRegistration(Base):
    """An activity's registration for one certifying board's MOC / Continuing Certification."""

    __tablename__ = "moc_registrations"
    __table_args__ = (UniqueConstraint("activity_id", "board"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    board: Mapped[str] = mapped_column(String(20), index=True)
    practice_areas: Mapped[list[str]] = mapped_column(default=list)
    # The board's own names for its credit types (e.g. ABIM "Medical Knowledge").
    credit_types: Mapped[list[str]] = mapped_column(default=list)
    points: Mapped[float | None] = mapped_column(Float)
    # ABA only: one or two paths in its content outline ("Pain Medicine > General > ...").
    content_areas: Mapped[list[str]] = mapped_column(default=list)
    claim_deadline: Mapped[date | None] = mapped_column(Date)
    attested: Mapped[bool] = mapped_column(Boolean, default=False)

    activity: Mapped[Activity] = relationship(back_populates="moc")


class RemsRegistration(Base):
    """A REMS education registration (e.g. Opioid Analgesic REMS) with its RPC activity id."""

    __tablename__ = "rems_registrations"
    __table_args__ = (UniqueConstraint("activity_id", "program"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id"), index=True)
    program: Mapped[str] = mapped_column(String(100))
    rpc_id: Mapped[str | None] = mapped_column(String(100))
    attested: Mapped[bool] = mapped_column(Boolean, default=False)

    activity: Mapped[Activity] = relationship(back_populates="rems")


class DeletedActivity(Base):
    """A tombstone: the incremental indexer removes deleted activities from the search index."""

    __tablename__ = "deleted_activities"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    activity_id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    deleted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class IndexState(Base):
    """How far the incremental sync of one search index has got (written after the engine
    confirmed the writes, so a crash means redoing a little, never losing anything)."""

    __tablename__ = "index_state"

    index_key: Mapped[str] = mapped_column(String(300), primary_key=True)
    changed_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    deleted_seq: Mapped[int] = mapped_column(Integer, default=0)
    # The day the index was last brought up to date: expiries since then are applied next.
    as_of_day: Mapped[date | None] = mapped_column(Date)


@event.listens_for(Activity, "after_delete")
def _tombstone(_mapper, connection, target: Activity) -> None:  # type: ignore[no-untyped-def]
    # In the deleting transaction itself, so a deletion and its tombstone land together.
    connection.execute(insert(DeletedActivity).values(activity_id=target.id, deleted_at=utcnow()))


class ApiKey(Base):
    """A provider's key to the web service. Only a hash is stored; the key is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    # The key's first characters, shown in listings and used to find its row; not a secret.
    prefix: Mapped[str] = mapped_column(String(20), unique=True)
    # SHA-256 of the whole key: the key is 256 random bits, so a fast hash is enough.
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    provider: Mapped[Provider] = relationship()


class WebSession(Base):
    """A provider signed in in a browser with one of its keys. The session cookie holds a random
    token and this row its SHA-256 (as keys are stored), so the table cannot sign anyone in; the
    session is over when it is ended (sign-out) or its key is revoked."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    api_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    api_key: Mapped[ApiKey] = relationship()


class ActivityChange(Base):
    """Who changed an activity, when, how (web service, batch file, command line)."""

    __tablename__ = "activity_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign key: the record of a deletion outlives the activity.
    activity_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), index=True
    )
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    source: Mapped[str] = mapped_column(String(20))  # "api", "batch", "cli"
    action: Mapped[str] = mapped_column(String(20))  # "created", "updated", "withdrawn", "deleted"
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def with_children() -> tuple[Any, ...]:
    """Loader options for an activity with everything the rules read: registrations,
    occurrences and provider, each in one extra query per batch rather than per row."""
    from sqlalchemy.orm import selectinload

    return (
        selectinload(Activity.moc),
        selectinload(Activity.rems),
        selectinload(Activity.occurrences),
        selectinload(Activity.provider),
    )


class BatchJob(Base):
    """A provider's large upload, imported outside the request that brought it.

    The file itself is kept in the row, so a job survives the worker that took it: one found
    `running` long after it started is run again (the import is all or nothing, so a run that
    died wrote nothing). `token` names the job in URLs; it is random, so job ids reveal nothing.
    """

    __tablename__ = "batch_jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token: Mapped[str] = mapped_column(String(40), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    api_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    filename: Mapped[str] = mapped_column(String(255))
    dry_run: Mapped[bool] = mapped_column(Boolean, default=False)
    # queued -> running -> done (the report says whether it was saved) or failed (no report)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # The batch report as JSON once done; a one-line reason once failed.
    result: Mapped[str | None] = mapped_column(Text)


# --- what the rules found, kept per activity (directory.registry.standing) --------------------
# A provider's dashboard counts and filters its activities by why they are not listed and how
# each board registration stands. The rules are Python and a provider may have 20,000
# activities, so what they say of each activity's own fields is kept here, computed when the
# activity changes (or the rules do), and a page counts it in SQL. What depends on the day
# (ended, past a claim deadline) or on the provider (its accreditation) is not decided here:
# the queries compare the kept dates with today, and read the provider itself.


class ListingCheck(Base):
    """What `rules.listing_gaps` found in one activity, as of its `updated_at`."""

    __tablename__ = "listing_checks"
    __table_args__ = (Index("ix_listing_checks_provider_id", "provider_id", "activity_id"),)

    activity_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("activities.id", ondelete="CASCADE"),
        primary_key=True,
    )
    provider_id: Mapped[int] = mapped_column(Integer)
    # Which rules and reference data found it (a fingerprint of both), and the activity's
    # updated_at when they did: either moved, and the check is done again.
    version: Mapped[str] = mapped_column(String(32))
    source_updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    has_missing: Mapped[bool] = mapped_column(Boolean)
    has_invalid: Mapped[bool] = mapped_column(Boolean)
    # The activity's own fields the other reasons read, as of the check (they change only
    # with `updated_at`): so a summary counts this narrow table alone, not the activities.
    status: Mapped[str] = mapped_column(String(20))
    show_in_directory: Mapped[bool] = mapped_column(Boolean)
    end_date: Mapped[date | None] = mapped_column(Date)


class RegistrationCheck(Base):
    """Whether one board registration is complete (`rules.registration_gaps`)."""

    __tablename__ = "registration_checks"
    __table_args__ = (Index("ix_registration_checks_provider_id_board", "provider_id", "board"),)

    activity_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("activities.id", ondelete="CASCADE"),
        primary_key=True,
    )
    board: Mapped[str] = mapped_column(String(20), primary_key=True)
    provider_id: Mapped[int] = mapped_column(Integer)
    complete: Mapped[bool] = mapped_column(Boolean)
    # The registration's own deadline, kept with it so a count needs no second join.
    claim_deadline: Mapped[date | None] = mapped_column(Date)


class CheckGap(Base):
    """One thing an activity or one of its registrations lacks or gets wrong: a required field
    left empty, a field that breaks a rule, an item a board needs. `board` is "" for the
    listing itself; `kind` is "missing" or "invalid"; `item` names the field."""

    __tablename__ = "check_gaps"
    __table_args__ = (
        Index("ix_check_gaps_provider_id_board_item", "provider_id", "board", "kind", "item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("activities.id", ondelete="CASCADE"),
        index=True,
    )
    provider_id: Mapped[int] = mapped_column(Integer)
    board: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(10))
    item: Mapped[str] = mapped_column(String(200))
