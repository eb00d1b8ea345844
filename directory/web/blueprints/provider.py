"""A provider's public page; signed in with its key, its own view of every activity with its
status and every reason it is not listed or not counted; and the published file layouts."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import select

from directory.provider_data import published
from directory.registry import api_keys, rules
from directory.registry.models import Activity, Provider, with_children
from directory.search import SearchRequest
from directory.web import jobs
from directory.web.context import (
    db_session,
    end_provider_session,
    my_board,
    signed_in_key,
    start_provider_session,
    today,
)
from directory.web.headers import no_store
from directory.web.presenters.cards import card
from directory.web.search_service import run_search
from indexer.document import to_document
from indexer.engine import SearchUnavailable

bp = Blueprint("provider", __name__)

# providers.id is a 32-bit integer in PostgreSQL: a larger number is no provider (404), not
# an error from the database.
MAX_PROVIDER_ID = 2**31 - 1


@bp.get(f"/providers/<int(max={MAX_PROVIDER_ID}):provider_id>")
def provider(provider_id: int) -> Any:
    the_provider = db_session().get(Provider, provider_id)
    if the_provider is None:
        abort(404)
    key = signed_in_key()
    signed_in = key is not None and key.provider_id == provider_id
    try:
        result = run_search(SearchRequest(filters={"provider": (str(provider_id),)}, per_page=50))
        listed = [card(h, "", my_board()) for h in result.hits]
        total = result.total
    except SearchUnavailable:
        listed, total = [], None
    rows = []
    if signed_in:
        day = today()
        for a in db_session().scalars(
            select(Activity)
            .where(Activity.provider_id == provider_id)
            .options(*with_children())
            .order_by(Activity.id)
        ):
            reasons = rules.why_not_listed(a, day)
            doc = to_document(a, day, preview=True)
            rows.append(
                {
                    "activity": a,
                    "listed": not reasons,
                    "reasons": reasons,
                    "boards": [rules.board_status(r, a, day).summary() for r in a.moc],
                    "preview": card(doc, "", my_board()) if doc else None,
                }
            )
    html = render_template(
        "provider.html",
        provider=the_provider,
        listed=listed,
        total=total,
        signed_in=signed_in,
        rows=rows,
        # Why the provider may not send activities now, said where it looks first.
        refusal=rules.registration_refused(the_provider) if signed_in else None,
        uploads=jobs.recent(db_session(), provider_id) if signed_in else [],
    )
    # The signed-in view is the provider's own: no shared cache or browser history keeps it.
    return no_store(Response(html)) if signed_in else html


@bp.route("/providers/sign-in", methods=["GET", "POST"])
def provider_sign_in() -> Any:
    error = None
    if request.method == "POST":
        key = api_keys.authenticate(db_session(), request.form.get("key", ""))
        if key is not None:
            # End this request's read snapshot first: its own writes must see the touch.
            db_session().commit()
            api_keys.touch(current_app.extensions["directory_engine"], key)
            start_provider_session(key)
            return redirect(url_for("provider.provider", provider_id=key.provider_id), code=303)
        error = "That key is not valid or has been revoked. Keys start with cme_."
    # The form handles a secret: no cache keeps what was typed or answered.
    return no_store(Response(render_template("sign_in.html", error=error), 401 if error else 200))


@bp.post("/providers/sign-out")
def provider_sign_out() -> Any:
    end_provider_session()
    return redirect(url_for("search.home"), code=303)


@bp.get("/provider-data/<kind>.<fmt>")
def provider_file(kind: str, fmt: str) -> Response:
    """The published upload templates and example files, one per format."""
    if kind not in ("template", "example") or fmt not in published.FORMATS:
        abort(404)
    filename, content_type, data = getattr(published, kind)(fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/provider-data")
def provider_data_docs() -> Response:
    """The column, element and key layout, as published in docs/provider-data.md."""
    return Response(published.render_docs(), content_type="text/markdown; charset=utf-8")
