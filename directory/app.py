"""Application factory: configuration from the environment, one engine, a session per request."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from directory.config import PROJECT_ROOT, Config
from directory.db import make_engine, make_sessionmaker
from directory.reference import reference


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config["SECRET_KEY"] = config.secret_key
    app.config["DIRECTORY"] = config
    # Load and check the reference data now: a broken data file should stop start-up, not a page.
    app.config["REFERENCE"] = reference()
    engine = make_engine(config.database_url)
    app.extensions["directory_engine"] = engine
    app.extensions["directory_sessions"] = make_sessionmaker(engine)

    from directory import pages

    app.register_blueprint(pages.bp)
    app.teardown_appcontext(_close_session)
    return app


def db_session() -> Session:
    """The request's (or CLI command's) session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["directory_sessions"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def today() -> date:
    """Today in the directory's time zone: listings end at local midnight, not UTC's."""
    config: Config = current_app.config["DIRECTORY"]
    return datetime.now(ZoneInfo(config.timezone)).date()
