"""Engine and session set-up, and migrations to the newest schema."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# How long a write waits for another writer (a batch import holds SQLite's one write lock
# while it runs) before the request gives up and answers 503 with Retry-After.
DEFAULT_BUSY_TIMEOUT = 5.0


def make_engine(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _postgresql_engine(url, busy_timeout)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": busy_timeout})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # SQLite ignores foreign keys unless asked; WAL lets the web app read during an import.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        # pysqlite commits DDL on its own, so a failed migration or import would stop half
        # done; take over BEGIN so that every transaction, DDL included, is all or nothing.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection):  # type: ignore[no-untyped-def]
        connection.exec_driver_sql("BEGIN")

    return engine


def _postgresql_engine(url: str, busy_timeout: float) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)

    @event.listens_for(engine, "connect")
    def _session_settings(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        with dbapi_connection.cursor() as cursor:
            # PostgreSQL locks rows, and a write waiting for a row that a batch import holds
            # waits, by default, for ever (the request hangs until the WSGI server kills it):
            # give up after the busy timeout instead, as SQLite does, so the caller answers
            # 503 and the job retries (is_busy knows the error).
            cursor.execute(f"SET lock_timeout = {max(1, round(busy_timeout * 1000))}")
            # timestamptz values come back in the session's zone, which is the server's
            # default (any zone, with its DST): the registry writes UTC, so read UTC too, and
            # documents, JSON and sort keys do not change with the server's configuration.
            cursor.execute("SET TIME ZONE 'UTC'")
        # Settings made inside a transaction are undone by its rollback: keep them.
        dbapi_connection.commit()

    return engine


# PostgreSQL's codes for the same conditions: lock_not_available (NOWAIT, lock_timeout),
# query_canceled (statement_timeout), serialization_failure, deadlock_detected. By code,
# because the server words its messages in its own language (lc_messages).
BUSY_SQLSTATES = frozenset({"55P03", "57014", "40001", "40P01"})


def is_busy(error: BaseException) -> bool:
    """The database refused for now (another writer holds the lock, a lock or statement
    timed out, a serialisation conflict): worth retrying in a moment, not a fault."""
    if not isinstance(error, OperationalError | DBAPIError):
        return False
    if getattr(getattr(error, "orig", None), "sqlstate", None) in BUSY_SQLSTATES:
        return True
    text = str(getattr(error, "orig", error)).lower()
    return any(
        words in text
        for words in (
            "database is locked",
            "database is busy",
            "could not obtain lock",
            "lock timeout",
            "canceling statement due to statement timeout",
            "could not serialize access",
            "deadlock detected",
        )
    )


def oldest_transaction_start(connection: Connection) -> datetime | None:
    """When the oldest transaction a client has open on this database (other than the
    caller's) began; None when there is none, and on SQLite (one writer at a time).

    PostgreSQL hides when another role's transactions began (unless the caller has
    pg_read_all_stats), so the registry's writers are expected to share one role."""
    if connection.dialect.name != "postgresql":
        return None
    return connection.scalar(
        text(
            "SELECT min(xact_start) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest schema (creating it if empty)."""
    make_engine(url).dispose()  # creates the SQLite folder
    command.upgrade(alembic_config(url), "head")
