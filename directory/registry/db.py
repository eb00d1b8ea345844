"""Engine and session set-up, and migrations to the newest schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


# How long a write waits for another writer (a batch import holds SQLite's one write lock
# while it runs) before the request gives up and answers 503 with Retry-After.
DEFAULT_BUSY_TIMEOUT = 5.0


def make_engine(url: str, busy_timeout: float = DEFAULT_BUSY_TIMEOUT) -> Engine:
    parsed = make_url(url)
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


def is_busy(error: BaseException) -> bool:
    """The database refused for now (another writer holds the lock, a lock or statement
    timed out, a serialisation conflict): worth retrying in a moment, not a fault."""
    if not isinstance(error, OperationalError | DBAPIError):
        return False
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
