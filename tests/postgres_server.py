"""Databases for tests on the throwaway PostgreSQL that `scripts/postgres start` runs.

Not a conftest: conftest.py's `database_url` and `empty_database_url` fixtures use it for the
modules that run on both databases. Each test gets a database of its own: a copy of a
template migrated to the newest schema once per test session (CREATE DATABASE ... TEMPLATE
takes milliseconds, a migration from scratch a second), dropped after the test. Names carry
this process's id, so test runs sharing the server never see each other's databases, and a
run's leftovers (a killed run cannot drop them) are dropped by the next one.

Without a server (POSTGRES_URL unset, unreachable, or psycopg not installed) these tests skip
locally, but fail under CI (CI=true), where a skip would silently hide that they never ran.
"""

from __future__ import annotations

import os
import re
import secrets
from typing import NoReturn

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

ENV = "POSTGRES_URL"
HOW = "run `scripts/postgres start` and `export POSTGRES_URL=$(scripts/postgres url)`"
NAME_PREFIX = "cme_test_"
_OUR_NAME = re.compile(rf"^{NAME_PREFIX}(\d+)_[0-9a-f]+(_\w+)?$")


def _fail_or_skip(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}; CI must run PostgreSQL (scripts/postgres start)", pytrace=False)
    pytest.skip(f"{reason}; {HOW} to run the PostgreSQL tests")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's live process
        return True
    return True


class PostgresDatabases:
    """Creates and drops this test session's databases on the server at `admin_url`."""

    def __init__(self, admin_url: str) -> None:
        self._url = make_url(admin_url)
        # NullPool: the admin connection is closed after each statement, so it never counts
        # against a database being copied or dropped.
        self.admin: Engine = create_engine(
            self._url,
            isolation_level="AUTOCOMMIT",
            poolclass=NullPool,
            connect_args={"connect_timeout": 5},  # a blackholed address must not stall
        )
        self.prefix = f"{NAME_PREFIX}{os.getpid()}_{secrets.token_hex(3)}"
        self._count = 0
        self._template: str | None = None

    def url(self, name: str) -> str:
        return self._url.set(database=name).render_as_string(hide_password=False)

    def _execute(self, sql: str) -> None:
        with self.admin.connect() as conn:
            conn.exec_driver_sql(sql)

    def create(self, template: str = "template0") -> str:
        """A new database (an empty one, or a copy of `template`); returns its name."""
        self._count += 1
        name = f"{self.prefix}_{self._count}"
        self._execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def drop(self, name: str) -> None:
        # FORCE ends what a test left connected (an engine it did not dispose, a job thread).
        self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def migrated_template(self) -> str:
        """The name of a database at the newest schema, made on first use, to copy from."""
        if self._template is None:
            from directory.registry.db import upgrade

            name = f"{self.prefix}_template"
            self._execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
            try:
                upgrade(self.url(name))  # disposes its engines: nothing stays connected
            except BaseException:
                self.drop(name)  # each test then shows the migration's error
                raise
            # A template with a connection open cannot be copied: let nobody connect to it.
            self._execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
            self._template = name
        return self._template

    def drop_leftovers(self) -> None:
        """Drop databases of earlier test runs whose process has ended."""
        with self.admin.connect() as conn:
            names = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": NAME_PREFIX + "%"},
            ).all()
        for name in names:
            match = _OUR_NAME.match(name)
            if match and not _pid_alive(int(match.group(1))):
                self.drop(name)

    def close(self) -> None:
        if self._template is not None:
            self.drop(self._template)
        self.admin.dispose()


def connect_or_skip() -> PostgresDatabases:
    """The databases helper for $POSTGRES_URL, or skip (locally) / fail (CI) without one."""
    url = os.environ.get(ENV)
    if not url:
        _fail_or_skip(f"{ENV} is not set")
    try:
        import psycopg  # noqa: F401  (the driver of postgresql+psycopg:// URLs)
    except ImportError:
        _fail_or_skip("psycopg is not installed (pip install -e '.[dev,postgres]')")
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        pytest.fail(f"{ENV}={url!r} is not a PostgreSQL URL", pytrace=False)
    if parsed.drivername == "postgresql":  # SQLAlchemy would pick psycopg2
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    databases = PostgresDatabases(url)
    try:
        with databases.admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to connect means "not reachable"
        databases.admin.dispose()
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _fail_or_skip(f"PostgreSQL is not reachable at {parsed.render_as_string()} ({first_line})")
    databases.drop_leftovers()
    return databases
