"""Errors as a person can act on them: JSON with a message under /api/, a page elsewhere.

`json_error` is the one JSON error builder for the public API and the providers' web service.
A form without its CSRF token (400) and too many requests (429) get a page saying what to do.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify, make_response, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, TooManyRequests

from directory.registry.db import is_busy


def json_error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": {"status": status, "message": message, **extra}})
    response.status_code = status
    return response


def _is_api() -> bool:
    return request.path.startswith("/api/")


BUSY_RETRY_SECONDS = 5


def _busy(exc: DBAPIError) -> Any:
    """The registry is busy (a batch import holds the write lock): 503 and when to retry."""
    if not is_busy(exc):
        raise exc
    message = "the directory is busy saving another upload; please try again in a few seconds"
    if _is_api():
        response = json_error(503, message)
    else:
        response = make_response(problem_page(503, "Busy for a moment", message.capitalize() + "."))
    response.headers["Retry-After"] = str(BUSY_RETRY_SECONDS)
    return response


def problem_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("problem.html", title=title, message=message), status


def _csrf(_exc: CSRFError) -> Any:
    # Only forms are checked (the APIs are exempt): a person with a stale page, or another
    # site's form posting here.
    return problem_page(
        400,
        "This form could not be accepted",
        "It has expired or did not come from this site. Go back, reload the page and try again.",
    )


def _too_many(exc: TooManyRequests) -> Any:
    # Flask-Limiter adds Retry-After (and headers.py makes sure there is one).
    limit = exc.description or "a limit"
    if _is_api():
        return json_error(429, f"too many requests ({limit}); wait a minute and try again")
    return problem_page(
        429,
        "Too many attempts",
        f"Too many requests from your address ({limit}). Please wait a minute and try again.",
    )


def install(app: Flask) -> None:
    app.register_error_handler(DBAPIError, _busy)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(TooManyRequests, _too_many)

    @app.errorhandler(404)
    def _not_found(_exc: HTTPException) -> Any:
        if _is_api():
            return json_error(404, "not found")
        return render_template("not_found.html"), 404

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        # Under /api/, every error is JSON with a message, never an HTML page.
        if not _is_api():
            return exc
        message = {
            404: "no such endpoint; see the API documentation",
            405: f"{request.method} is not allowed here",
            413: "the upload is larger than the 50 MB limit; split the file",
        }.get(exc.code or 500, exc.description)
        return json_error(exc.code or 500, message or "error")
