"""The security headers of every response, in one place.

- Framing: only the embed page (`/embed`) may be framed by other sites. Every other response
  of the app gets `X-Frame-Options: DENY` and `frame-ancestors 'none'`, merged into whatever
  Content-Security-Policy the view set.
- The embed page's own policy: no script at all, styles from us plus one nonce'd theme rule.
- Static files never reach Flask (WhiteNoise answers them, see `assets.py`), so they get the
  same framing rule from `static_headers`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request

# The one endpoint other sites may frame (the blueprint `embed`, view `embed_page`).
FRAMEABLE_ENDPOINTS = frozenset({"embed.embed_page"})


def embed_policy(nonce: str) -> str:
    """The embed page needs no script; its styles come from us (plus one nonce'd theme rule)."""
    return (
        f"default-src 'none'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; "
        "form-action 'self'; base-uri 'none'; frame-ancestors *"
    )


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


def static_headers(headers: Any, _path: str, url: str) -> None:
    """WhiteNoise's hook: static files get the app's framing rule too; no one frames them."""
    headers["X-Frame-Options"] = "DENY"
    headers["Content-Security-Policy"] = "frame-ancestors 'none'"
    headers["X-Content-Type-Options"] = "nosniff"
    if url.rsplit("/", 1)[-1].startswith("widget."):
        # Host pages that isolate themselves (COEP) may still load the widget.
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"


def install(app: Flask) -> None:
    app.after_request(_deny_framing)
