"""A provider's public page; signed in with its key, its dashboard: how its activities stand
(a summary of why any is not listed or not counted, each line linking to the list it counts),
the list filtered and by page, and the public card of any one on demand; and the published
file layouts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import urlencode, urlsplit

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
from werkzeug.wrappers import Response as BaseResponse

from directory.provider_data import published
from directory.registry import api_keys, rules, standing
from directory.registry.models import Provider
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
from directory.web.errors import problem_page
from directory.web.headers import no_store
from directory.web.presenters import standing as standing_view
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
        # Two counts, read in SQL: the list itself, filtered and by page, is the dashboard's.
        "standing": _standing_counts(the_provider) if signed_in else None,
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


# --- the signed-in provider's dashboard ----------------------------------------------------------

# activities.provider_activity_id is at most 100 characters.
MAX_OWN_ID = 100
# The page sizes the form offers; any number up to standing.MAX_PER_PAGE reads from a URL.
PER_PAGE_CHOICES = (10, standing.DEFAULT_PER_PAGE, 50, standing.MAX_PER_PAGE)


def _standing_counts(provider: Provider) -> dict[str, Any]:
    """Listed and not listed, for the provider page's short summary (after a refresh)."""
    waiting = standing_view.refresh_checks(db_session(), provider.id)
    summary = standing.summary(db_session(), provider, today(), waiting)
    base = url_for("provider.dashboard", provider_id=provider.id)
    return standing_view.summary_dict(summary, lambda q: standing_view.query_url(base, q))


def _own_provider(provider_id: int) -> Provider | BaseResponse:
    """The signed-in provider when it is `provider_id`; else the answer to give instead:
    to the sign-in form (not signed in), or a 403 (signed in as another provider), which
    says nothing of that provider, not even whether it exists."""
    key = signed_in_key()
    if key is None:
        return redirect(url_for("provider.provider_sign_in"), code=303)
    if key.provider_id != provider_id:
        own = url_for("provider.dashboard", provider_id=key.provider_id)
        html, status = problem_page(
            403,
            "Not your activities",
            "You are signed in as another provider, and a provider sees only its own "
            f"activities. Yours are at {own}; to see these, sign out and sign in with "
            "their provider's API key.",
        )
        return no_store(Response(html, status))
    provider = db_session().get(Provider, provider_id)
    if provider is None:  # a live key's provider is never deleted; nothing to show if it were
        abort(404)
    return provider


def _export_urls(provider_id: int, query: standing.Query) -> dict[str, str]:
    """The CSV and Excel exports of the list as filtered and sorted (every page of it)."""
    params = standing_view.export_query(query).to_params()
    suffix = f"?{urlencode(params)}" if params else ""
    return {
        fmt: url_for("provider_export.export", provider_id=provider_id, fmt=fmt) + suffix
        for fmt in ("csv", "xlsx")
    }


@bp.get(f"/providers/<int(max={MAX_PROVIDER_ID}):provider_id>/activities")
def dashboard(provider_id: int) -> Any:
    """The signed-in provider's own activities: the summary, then the list filtered by the
    query string (unknown parameters ignored) and by page. Never cached: it is private."""
    own = _own_provider(provider_id)
    if not isinstance(own, Provider):
        return own
    base = url_for("provider.dashboard", provider_id=provider_id)
    try:
        query = standing.Query.from_args(request.args)
    except standing.QueryError as exc:
        html = render_template(
            "provider_activities.html", provider=own, base=base, problems=exc.problems
        )
        return no_store(Response(html, 400))
    session, day = db_session(), today()
    waiting = standing_view.refresh_checks(session, provider_id)
    summary = standing.summary(session, own, day, waiting)
    page = standing.page(session, own, query, day)

    def url(q: standing.Query) -> str:
        return standing_view.query_url(base, q)

    ref = reference()
    html = render_template(
        "provider_activities.html",
        provider=own,
        base=base,
        query=query,
        summary=standing_view.summary_dict(summary, url),
        refusal=rules.registration_refused(own) if summary.provider_refused else None,
        page=page,
        rows=[_row_view(provider_id, row) for row in page.rows],
        page_url=lambda n: url(query.with_page(n)),
        chips=standing_view.chips(query, url),
        exports=_export_urls(provider_id, query),
        reasons=standing.REASON_LABELS,
        statuses=ref.statuses,
        formats=[f.name for f in ref.formats.values()],
        boards=ref.boards,
        board_states=standing.BOARD_STATES,
        sorts=standing.SORTS,
        per_page_choices=sorted({*PER_PAGE_CHOICES, query.per_page}),
    )
    return no_store(Response(html))


def _row_view(provider_id: int, row: standing.Row) -> dict[str, Any]:
    return {
        "activity": row.activity,
        **standing_view.row_dict(row),
        "preview_url": url_for(
            "provider.preview",
            provider_id=provider_id,
            provider_activity_id=row.activity.provider_activity_id,
        ),
    }


# `path`: a provider's own id may hold any character (even a slash, in data older than the
# rule against it); url_for quotes whatever needs quoting.
@bp.get(
    f"/providers/<int(max={MAX_PROVIDER_ID}):provider_id>"
    "/activities/<path:provider_activity_id>/preview"
)
def preview(provider_id: int, provider_activity_id: str) -> Any:
    """One of the provider's own activities: its public card as it would read once listed,
    whether it is listed, and why not. Another provider's activity is no activity (404)."""
    own = _own_provider(provider_id)
    if not isinstance(own, Provider):
        return own
    # An id no column holds (a NUL, which PostgreSQL refuses to compare, or one longer than
    # the column) is no activity, not a database error.
    if "\x00" in provider_activity_id or len(provider_activity_id) > MAX_OWN_ID:
        abort(404)
    session, day = db_session(), today()
    # The rules read live, one activity: no stored check to refresh first.
    row = standing.row_of(session, own, provider_activity_id, day)
    if row is None:
        abort(404)
    doc = to_document(row.activity, day, preview=True)
    html = render_template(
        "provider_preview.html",
        provider=own,
        row=_row_view(provider_id, row),
        card=card(doc, "", my_board()) if doc else None,
        back=_back_to_list(provider_id),
    )
    return no_store(Response(html))


def _back_to_list(provider_id: int) -> str:
    """The dashboard list the preview was opened from (its filters and page), when the
    browser says so (same origin, that very path); else the unfiltered dashboard."""
    base = url_for("provider.dashboard", provider_id=provider_id)
    came_from = urlsplit(request.referrer or "")
    if came_from.netloc == request.host and came_from.path == base:
        return f"{base}?{came_from.query}" if came_from.query else base
    return base


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
            return redirect(url_for("provider.dashboard", provider_id=key.provider_id), code=303)
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
