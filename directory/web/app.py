"""Application factory: configuration from the environment, one engine, a session per request.

The factory is the top of the web layer: it imports the blueprints, and nothing imports it
but the CLI and the WSGI server (`gunicorn 'directory.web:create_app()'`).

It also wires the request-wide defences, so that no blueprint has to remember them:
- CSRF (Flask-WTF's CSRFProtect, the maintained CSRF extension for Flask): every POST form
  carries `csrf_token()`, checked against the session; the JSON APIs under /api/ are exempt
  (they authenticate with a Bearer key, never a cookie).
- Rate limits (Flask-Limiter, the maintained rate-limit extension, storage through `limits`):
  sign-in attempts per address, and the providers' web service per key and per address.
  Counters live in memory unless `RATELIMIT_STORAGE_URI` names a shared store (e.g.
  `redis://host:6379`, with its client installed): behind several workers, set it.
- `DIRECTORY_PROXY_FIX=N` (N trusted proxies in front, usually 1) believes their
  `X-Forwarded-For` and `X-Forwarded-Proto` (werkzeug's ProxyFix), so the client's address and
  https are seen; unset, those headers are ignored, since anyone can send them.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any, cast

from flask import Flask, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from directory.config import Config, persistent_secret
from directory.registry.db import make_engine, make_sessionmaker
from directory.registry.reference import reference
from directory.web import assets, context, errors, headers
from directory.web.blueprints import (
    activity,
    api,
    embed,
    feeds,
    provider,
    provider_api,
    provider_export,
    search,
)

SIGN_IN_LIMIT = "10/minute"  # per address: a person mistyping a key never gets near it
PROVIDER_API_LIMIT = "120/minute"  # per key, and per address whatever the key
# An export of 20,000 activities is seconds of work: a person exports now and then, and a
# loop asking again and again gets a 429 rather than every worker.
EXPORT_LIMIT = "30/minute"


def _presented_key() -> str:
    """The web service's rate-limit identity: a hash of the key sent (so only its holder
    shares its counter), or the address when no key is sent."""
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and presented.strip():
        return "key:" + hashlib.sha256(presented.strip().encode()).hexdigest()[:32]
    return "address:" + get_remote_address()


def _trusted_proxies(value: str) -> int:
    try:
        count = int(value or 0)
    except ValueError:
        raise ValueError(f"DIRECTORY_PROXY_FIX: '{value}' is not a number of proxies") from None
    if not 0 <= count <= 10:
        raise ValueError("DIRECTORY_PROXY_FIX: give the number of trusted proxies, 0 to 10")
    return count


def _install_limits(app: Flask) -> None:
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    )
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)  # Retry-After on every 429
    limiter = Limiter(get_remote_address, app=app)
    limiter.shared_limit(PROVIDER_API_LIMIT, scope="provider-api-key", key_func=_presented_key)(
        provider_api.bp
    )
    limiter.shared_limit(PROVIDER_API_LIMIT, scope="provider-api-address")(provider_api.bp)
    limiter.limit(EXPORT_LIMIT)(provider_export.bp)
    # Only the sign-in attempt (POST) counts, not showing the form.
    sign_in = "provider.provider_sign_in"
    limited = limiter.limit(SIGN_IN_LIMIT, methods=["POST"])(app.view_functions[sign_in])
    app.view_functions[sign_in] = cast(Any, limited)


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
    # The form token lives as long as the browser session it is bound to (sign-in and sign-out
    # start a new one); a time limit would only turn a tab left open into an error page.
    app.config["WTF_CSRF_TIME_LIMIT"] = None

    for blueprint in (search, activity, provider, provider_export, feeds, embed, api, provider_api):
        app.register_blueprint(blueprint.bp)
    # Before the limiter: Flask runs after-request hooks last-registered first, so the
    # limiter's exact Retry-After is set before headers.py would fall back to its own.
    headers.install(app)
    csrf = CSRFProtect(app)
    csrf.exempt(api.bp)
    csrf.exempt(provider_api.bp)
    _install_limits(app)
    context.install(app)
    errors.install(app)
    assets.install(app, config.static_dir, config.data_dir)
    proxies = _trusted_proxies(os.environ.get("DIRECTORY_PROXY_FIX", ""))
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]
    return app
