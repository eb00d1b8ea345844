"""A signed-in provider's filtered list of its own activities as a CSV or Excel file, in the
batch import's layout (`provider_data.export`): fix it and upload it back.

The filters are the dashboard's (`standing.Query`, read from the same query string), so the
dashboard's "export these" link carries its filters as they are; its page and page size are
left out, since the export is the whole filtered list. Only the provider itself may export
its activities: not signed in is sent to sign in, another provider's export is 403.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, make_response, redirect, request, url_for
from werkzeug.datastructures import MultiDict

from directory.provider_data import export as exporter
from directory.registry import standing
from directory.registry.models import Provider
from directory.web.context import db_session, signed_in_key, today
from directory.web.errors import problem_page
from directory.web.headers import no_store
from directory.web.presenters.standing import refresh_checks

bp = Blueprint("provider_export", __name__)

# providers.id is a 32-bit integer in PostgreSQL: a larger number is no provider (404), not an
# error from the database. (The provider blueprint's own bound; blueprints share no module.)
MAX_PROVIDER_ID = 2**31 - 1
# The dashboard's paging, which an export ignores: it is the whole list.
PAGING = ("page", "per_page")


def _problem(status: int, title: str, message: str) -> Response:
    return no_store(make_response(problem_page(status, title, message)))


@bp.get(f"/providers/<int(max={MAX_PROVIDER_ID}):provider_id>/activities.<fmt>")
def export(provider_id: int, fmt: str) -> Any:
    if fmt not in exporter.FORMATS:
        abort(404)
    key = signed_in_key()
    if key is None:
        return redirect(url_for("provider.provider_sign_in"), code=303)
    if key.provider_id != provider_id:
        return _problem(
            403,
            "Not your activities",
            "You are signed in as another provider: you can export only your own activities.",
        )
    provider = db_session().get(Provider, provider_id)
    if provider is None:  # a key outlives nothing it belongs to, but say so rather than fail
        return _problem(404, "No such provider", "This provider is not in the registry.")
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k not in PAGING])
    try:
        query = standing.Query.from_args(args)
    except standing.QueryError as exc:
        message = "; ".join(f"{name}: {problem}" for name, problem in exc.problems.items())
        return _problem(400, "These filters cannot be read", message + ".")
    # An export is the whole filtered list: with activities still to check (more changed
    # than one request checks, or an import holding the write lock), it would miss some.
    waiting = refresh_checks(db_session(), provider_id)
    if waiting:
        response = _problem(
            503,
            "Your activities are still being checked",
            f"{waiting:,} of your activities changed moments ago and are still being checked, "
            "so an export now would leave them out. Try again in a minute.",
        )
        response.headers["Retry-After"] = "60"
        return response
    try:
        download = exporter.export(db_session(), provider, query, today(), fmt)
    except exporter.ExportTooLarge as exc:
        text = str(exc)
        return _problem(400, "Too many activities for one file", text[:1].upper() + text[1:] + ".")
    response = Response(
        download.chunks, content_type=download.content_type, direct_passthrough=True
    )
    response.headers["Content-Length"] = str(download.size)
    response.headers["Content-Disposition"] = f'attachment; filename="{download.filename}"'
    return no_store(response)
