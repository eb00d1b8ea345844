"""What every request knows: its database session, today's date, the physician's board and
licensing state, and the provider signed in, if any.

Views and presenters import these functions; nothing here imports a view, so the factory
(`app.py`) can import every blueprint without a circle.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, request, session
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from directory.config import Config
from directory.registry.models import ApiKey, WebSession, utcnow
from directory.registry.reference import reference
from directory.search import DATE_WINDOWS, facet_label, parse_request, state_code

MY_BOARD_COOKIE = "my_board"
MY_STATE_COOKIE = "my_state"
# The one thing a provider's session cookie says about them: which web_sessions row it is.
PROVIDER_SESSION = "web_session"
# However it is used, a sign-in lasts a working day at most.
SESSION_LIFETIME = timedelta(hours=12)


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


def my_state() -> str | None:
    """The licensing state a physician chose in the header ("My state"), remembered in a
    cookie: which state's requirements the pages show. Like my board, it never filters; a
    `my_state` in the URL (a shared "counts for Texas" link) overrides it for that page."""
    raw = request.cookies.get(MY_STATE_COOKIE)
    return state_code(raw) if raw and len(raw) <= 40 else None


def url_state() -> str | None:
    """The state this page's URL names (`my_state=TX`), checked as a search checks it: raises
    SearchRequestError with the search's own message when it names no state."""
    raw = request.args.get("my_state", "")
    if not raw.strip():
        return None
    return parse_request({"my_state": raw}).my_state


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_provider_session(key: ApiKey) -> None:
    """Sign this browser in with `key`: a new web_sessions row, the cookie naming only it.

    The cookie is cleared first, so nothing from before the sign-in (a planted form token, an
    earlier provider) carries over."""
    token = secrets.token_urlsafe(32)
    db_session().add(WebSession(id=_token_hash(token), api_key_id=key.id))
    db_session().commit()
    session.clear()
    session[PROVIDER_SESSION] = token


def signed_in_key() -> ApiKey | None:
    """The key this browser signed in with, while its session is open and the key is live.

    Checked on every request against the registry: revoking the key (`directory api-key
    revoke`) or signing out ends the session at once, and so for any copy of the cookie."""
    if "signed_in_key" in g:
        return g.signed_in_key
    key = None
    token = session.get(PROVIDER_SESSION)
    if isinstance(token, str):
        key = db_session().scalar(
            select(ApiKey)
            .join(WebSession, WebSession.api_key_id == ApiKey.id)
            .where(
                WebSession.id == _token_hash(token),
                WebSession.ended_at.is_(None),
                WebSession.created_at > utcnow() - SESSION_LIFETIME,
                ApiKey.revoked_at.is_(None),
            )
        )
        if key is None:
            session.pop(PROVIDER_SESSION, None)  # the browser forgets a session that is over
    g.signed_in_key = key
    return key


def end_provider_session() -> None:
    """Sign out: the row is ended, so the cookie (and any copy of it) no longer works."""
    token = session.get(PROVIDER_SESSION)
    if isinstance(token, str):
        db_session().execute(
            update(WebSession)
            .where(WebSession.id == _token_hash(token), WebSession.ended_at.is_(None))
            .values(ended_at=utcnow())
        )
        db_session().commit()
    session.clear()
    g.pop("signed_in_key", None)


def _template_context() -> dict[str, Any]:
    # Every template sees the physician's board and state without each view passing them.
    if not request:
        return {"my_board": None, "my_state": None}
    return {"my_board": my_board(), "my_state": my_state()}


def install(app: Flask) -> None:
    app.teardown_appcontext(_close_session)
    app.context_processor(_template_context)
    app.jinja_env.globals["reference"] = app.config["REFERENCE"]
    # The search form's date choices ("custom" is the From/To fields beside them).
    app.jinja_env.globals["facet_label"] = facet_label  # value labels, declared in search.py
    app.jinja_env.globals["date_windows"] = [w for w in DATE_WINDOWS if w.name != "custom"]
