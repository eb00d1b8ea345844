"""The security headers of every response, in one place.

- Every response: `X-Content-Type-Options: nosniff` and
  `Referrer-Policy: strict-origin-when-cross-origin`; over https also
  `Strict-Transport-Security`, and the session cookie is `Secure` (see `SessionInterface`).
  Whether a request came over https is `request.is_secure`: the WSGI server's word, or, only
  when `DIRECTORY_PROXY_FIX` names a number of trusted proxies, theirs (`X-Forwarded-Proto`,
  applied by werkzeug's ProxyFix in `app.py`).
- HTML pages: the site's Content-Security-Policy (`SITE_POLICY`): scripts and styles only from
  our own files, so no inline script or style attribute runs. The JSON-LD block of the detail
  page is data (`type="application/ld+json"`), which a policy does not govern.
- Framing: only the embed page (`/embed`) may be framed by other sites. Every other response
  of the app gets `X-Frame-Options: DENY` and `frame-ancestors 'none'`, merged into whatever
  Content-Security-Policy the view set.
- The embed page's own policy: no script at all, styles from us plus one nonce'd theme rule.
- Every 429 and 503 says when to come back (`Retry-After`), whoever answered it.
- Static files never reach Flask (WhiteNoise answers them, see `assets.py`), so they get the
  same rules from `static_headers`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask.sessions import SecureCookieSessionInterface

# The one endpoint other sites may frame (the blueprint `embed`, view `embed_page`).
FRAMEABLE_ENDPOINTS = frozenset({"embed.embed_page"})

# Every page of the site: our own scripts, styles and images (plus data: images), no plugins,
# no <base>, forms only to us, never framed. The typeahead's fetch is to us (default-src).
SITE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# A year, this host only: the directory cannot know what else runs under its domain.
HSTS = "max-age=31536000"
REFERRER_POLICY = "strict-origin-when-cross-origin"
RETRY_AFTER_SECONDS = "60"


def embed_policy(nonce: str) -> str:
    """The embed page needs no script; its styles come from us (plus one nonce'd theme rule)."""
    return (
        f"default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors *"
    )


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, marked `Secure` whenever the request came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def _every_response(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", REFERRER_POLICY)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if response.status_code in (429, 503):
        response.headers.setdefault("Retry-After", RETRY_AFTER_SECONDS)
    if response.mimetype == "text/html" and "Content-Security-Policy" not in response.headers:
        response.headers["Content-Security-Policy"] = SITE_POLICY
    return response


def _deny_framing(response: Response) -> Response:
    """Only /embed may be framed; every other response refuses framing, in both dialects."""
    if request.endpoint in FRAMEABLE_ENDPOINTS:
        return response
    response.headers["X-Frame-Options"] = "DENY"
    policies = response.headers.getlist("Content-Security-Policy")
    if not policies:
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    elif not any(_has_directive(p, "frame-ancestors") for p in policies):
        last = policies[-1].strip().rstrip(";").rstrip()
        kept = policies[:-1] + [
            f"{last}; frame-ancestors 'none'" if last else "frame-ancestors 'none'"
        ]
        del response.headers["Content-Security-Policy"]
        for policy in kept:
            response.headers.add("Content-Security-Policy", policy)
    return response


def _has_directive(policy: str, name: str) -> bool:
    return any(part.strip().lower().split(" ", 1)[0] == name for part in policy.split(";"))


def no_store(response: Response) -> Response:
    """A page only its signed-in provider may see: never kept by a browser or a proxy."""
    response.headers["Cache-Control"] = "private, no-store"
    response.vary.add("Cookie")
    return response


def static_headers(headers: Any, _path: str, url: str) -> None:
    """WhiteNoise's hook: static files get the app's framing rule too; no one frames them."""
    headers["X-Frame-Options"] = "DENY"
    headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = REFERRER_POLICY
    if url.rsplit("/", 1)[-1].startswith("widget."):
        # Host pages that isolate themselves (COEP) may still load the widget.
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"


def install(app: Flask) -> None:
    app.session_interface = SessionInterface()
    # Flask runs these last-registered first: the site policy is in place before framing.
    app.after_request(_deny_framing)
    app.after_request(_every_response)
