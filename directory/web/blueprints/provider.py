"""A provider's public page; signed in with its key, its own view of every activity with its
status and every reason it is not listed or not counted; and the published file layouts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

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
from directory.registry.reference import reference
from directory.search import (
    MAX_PAGE,
    MAX_PER_PAGE,
    SORTS,
    SearchRequest,
    SearchRequestError,
)
from directory.web import jobs
from directory.web.context import (
    db_session,
    end_provider_session,
    my_board,
    my_state,
    signed_in_key,
    start_provider_session,
    today,
)
from directory.web.headers import no_store
from directory.web.presenters.cards import card
from directory.web.presenters.facets import filters_context, read_search, search_url
from directory.web.presenters.requirements import Origin, radius_text
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
    page: dict[str, Any] = {
        "provider": the_provider,
        "signed_in": signed_in,
        "rows": _own_rows(provider_id) if signed_in else [],
        # Why the provider may not send activities now, said where it looks first.
        "refusal": rules.registration_refused(the_provider) if signed_in else None,
        "uploads": jobs.recent(db_session(), provider_id) if signed_in else [],
    }
    status = 200
    try:
        page.update(_listings(provider_id))
    except SearchRequestError as exc:
        page.update(problems=exc.problems, req=SearchRequest(), result=None, total=None)
        status = 400
    html = render_template("provider.html", **page)
    # The signed-in view is the provider's own: no shared cache or browser history keeps it.
    return no_store(Response(html, status)) if signed_in else (html, status)


def _listings(provider_id: int) -> dict[str, Any]:
    """The provider's listings as the search page lists results: the same query string (text,
    facets, dates, sort, pages, my_state, near...), the facets counted among these listings
    only, every link back to this page. Bad input raises SearchRequestError."""
    asked, expanded = read_search(request.args)
    # The page is this provider's alone: a `provider=` in its URL (a link copied from a search
    # that selected several providers, or one edited by hand) must neither add other providers'
    # listings nor replace this one's, so it is dropped and this provider always filters. The
    # page's own links leave it out: the path already names the provider.
    own = replace(asked, filters={k: v for k, v in asked.filters.items() if k != "provider"})
    req = replace(own, filters={**own.filters, "provider": (str(provider_id),)})
    base = url_for("provider.provider", provider_id=provider_id)
    listing: dict[str, Any] = {
        "req": own,
        "base": base,
        "page_url": lambda n: search_url(replace(own, page=n), base),
    }
    try:
        result = run_search(req)
    except SearchUnavailable:
        return {**listing, "result": None, "total": None, "listed": [], "unavailable": True}
    board = my_board()
    # The URL's state (a shared "counts for Texas" link) before the one remembered.
    state = req.my_state or my_state()
    listed = [card(h, "", board, state, Origin.of(req)) for h in result.hits]
    if req.my_state:
        for c in listed:
            c["url"] += "?" + urlencode([("my_state", req.my_state)])
    # Its facets are counted within these listings (the provider filter applies to every
    # count), but the provider facet itself would list other providers: it is not shown.
    filters = filters_context(own, result, expanded, state, base, hidden=("provider",))
    return {
        **listing,
        **filters,
        "result": result,
        "total": result.total,
        "listed": listed,
        "state_name": reference().jurisdiction_name(state) if state else None,
        "radius": radius_text(own),
        "sorts": SORTS,
        "hidden_fields": _hidden_fields(own, filters["shown_facets"]),
        # At most MAX_PAGE pages: beyond them, more a page or the filters reach the rest.
        "reachable": min(result.total, MAX_PAGE * own.per_page),
        "more_per_page_url": search_url(replace(own, page=1, per_page=MAX_PER_PAGE), base)
        if own.per_page < MAX_PER_PAGE
        else None,
        "max_per_page": MAX_PER_PAGE,
    }


def _hidden_fields(req: SearchRequest, facets: list[Any]) -> list[tuple[str, str]]:
    """The parts of the search the provider page's form has no field for (dates, credits, a
    place, a state, a selection no facet lists), so that applying a filter keeps them."""
    own_fields = {"q", "sort", "page", "show"}
    shown = {(f.name, r.value) for f in facets for r in f.requirements}
    shown |= {(f.name, v.value) for f in facets for g in f.groups for v in g.values}
    return [(k, v) for k, v in req.to_params() if k not in own_fields and (k, v) not in shown]


def _own_rows(provider_id: int) -> list[dict[str, Any]]:
    """Every activity of the signed-in provider, with whether it is listed and why not."""
    rows = []
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
    return rows


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
