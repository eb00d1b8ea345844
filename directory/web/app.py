"""Application factory: configuration from the environment, one engine, a session per request.

The factory is the top of the web layer: it imports the blueprints, and nothing imports it
but the CLI and the WSGI server (`gunicorn 'directory.web:create_app()'`).
"""

from __future__ import annotations

from flask import Flask

from directory.config import Config, persistent_secret
from directory.registry.db import make_engine, make_sessionmaker
from directory.registry.reference import reference
from directory.web import assets, context, errors, headers
from directory.web.blueprints import activity, api, embed, feeds, provider, provider_api, search


def create_app(config: Config | None = None) -> Flask:
    config = config or Config.from_env()
    app = Flask(
        __name__,
        template_folder=str(config.templates_dir),
        static_folder=None,  # WhiteNoise serves static/, see directory/web/assets.py
    )
    app.config["SECRET_KEY"] = config.secret_key or persistent_secret(config.data_dir)
    app.config["DIRECTORY"] = config
    # Load and check the reference data now: a broken data file should stop start-up, not a page.
    app.config["REFERENCE"] = reference()
    engine = make_engine(config.database_url, config.database_busy_timeout)
    app.extensions["directory_engine"] = engine
    app.extensions["directory_sessions"] = make_sessionmaker(engine)

    # Uploads larger than the batch file limit are refused before they are read.
    app.config["MAX_CONTENT_LENGTH"] = 51 * 1024 * 1024

    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # no session cookie on cross-site POSTs
    app.config["SESSION_COOKIE_HTTPONLY"] = True

    for blueprint in (search, activity, provider, feeds, embed, api, provider_api):
        app.register_blueprint(blueprint.bp)
    context.install(app)
    errors.install(app)
    headers.install(app)
    assets.install(app, config.static_dir, config.data_dir)
    return app
