"""What every request knows: its database session, today's date, and the physician's board.

Views and presenters import these functions; nothing here imports a view, so the factory
(`app.py`) can import every blueprint without a circle.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request
from sqlalchemy.orm import Session

from directory.config import Config
from directory.registry.reference import reference
from directory.search import DATE_WINDOWS, facet_label

MY_BOARD_COOKIE = "my_board"


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


def my_board() -> str | None:
    """The board a physician chose in the header ("My board"), remembered in a cookie.

    It only orders and highlights; it never filters by itself, so a shared link shows everyone
    the same results.
    """
    board = request.cookies.get(MY_BOARD_COOKIE)
    return board if board in reference().boards else None


def _template_context() -> dict[str, Any]:
    # Every template sees the physician's board without each view passing it by hand.
    return {"my_board": my_board() if request else None}


def install(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
    app.context_processor(_template_context)
    app.jinja_env.globals["reference"] = app.config["REFERENCE"]
    # The search form's date choices ("custom" is the From/To fields beside them).
    app.jinja_env.globals["facet_label"] = facet_label  # value labels, declared in search.py
    app.jinja_env.globals["date_windows"] = [w for w in DATE_WINDOWS if w.name != "custom"]
