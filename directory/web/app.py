"""Application factory: configuration from the environment, one engine, a session per request."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, jsonify, request
from sqlalchemy.orm import Session

from directory.config import PROJECT_ROOT, Config
from directory.registry.db import make_engine, make_sessionmaker
from directory.registry.reference import reference


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=None,  # WhiteNoise serves static/, see directory/assets.py
    )
    app.config["SECRET_KEY"] = config.secret_key
    app.config["DIRECTORY"] = config
    # Load and check the reference data now: a broken data file should stop start-up, not a page.
    app.config["REFERENCE"] = reference()
    engine = make_engine(config.database_url)
    app.extensions["directory_engine"] = engine
    app.extensions["directory_sessions"] = make_sessionmaker(engine)

    # Uploads larger than the batch file limit are refused before they are read.
    app.config["MAX_CONTENT_LENGTH"] = 51 * 1024 * 1024

    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # no session cookie on cross-site POSTs
    app.config["SESSION_COOKIE_HTTPONLY"] = True

    from directory.web import api, embed, pages, provider_api

    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(provider_api.bp)
    app.register_blueprint(embed.bp)
    _json_errors_under_api(app)
    app.teardown_appcontext(_close_session)

    from directory.web import assets

    assets.install(app, config.data_dir)
    app.jinja_env.globals["reference"] = app.config["REFERENCE"]

    @app.errorhandler(404)
    def _not_found(exc):  # type: ignore[no-untyped-def]
        if request.path.startswith("/api/"):
            return jsonify({"error": {"status": 404, "message": "not found"}}), 404
        from flask import render_template

        return render_template("not_found.html", my_board=None), 404

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


def _json_errors_under_api(app: Flask) -> None:
    """Under /api/, every error is JSON with a message, never an HTML page."""
    from werkzeug.exceptions import HTTPException

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        if not request.path.startswith("/api/"):
            return exc
        message = {
            404: "no such endpoint; see the API documentation",
            405: f"{request.method} is not allowed here",
            413: "the upload is larger than the 50 MB limit; split the file",
        }.get(exc.code or 500, exc.description)
        return jsonify({"error": {"status": exc.code, "message": message}}), exc.code
