"""The public JSON API: search, facets, suggestions, one activity, and its OpenAPI document.

Search takes exactly the search page's query string and answers with the same cards the
page shows. Responses carry an ETag and a short public cache lifetime; every public GET
allows any origin, since the widget calls it from other sites. So an answer depends on its
URL alone: the "My board" and "My state" cookies play no part here, and the physician's state
is the `my_state` parameter.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, url_for
from werkzeug.datastructures import MultiDict

from directory.registry.reference import reference
from directory.search import (
    SearchRequest,
    SearchRequestError,
    SearchResult,
    parse_request,
)
from directory.web.context import url_state
from directory.web.errors import json_error
from directory.web.presenters.cards import card
from directory.web.presenters.detail import ActivityGone, listed_activity
from directory.web.presenters.facets import toggled
from directory.web.presenters.openapi import document
from directory.web.presenters.requirements import Origin, mandate_label, radius_text
from directory.web.search_service import run_search, run_search_rendered, search_engine
from indexer.engine import SearchUnavailable

bp = Blueprint("api", __name__, url_prefix="/api/v1")

CACHE_SECONDS = 60


@bp.after_request
def _public(response: Response) -> Response:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Vary"] = "Accept-Encoding"
    if request.method == "GET" and response.status_code == 200:
        response.headers["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
        response.add_etag()
        response.make_conditional(request)
    return response


def _facets_json(result: SearchResult) -> list[dict[str, Any]]:
    return [
        {
            "name": f.name,
            "label": f.label,
            "values": [
                {"value": v.value, "label": v.label, "count": v.count, "selected": v.selected}
                for v in f.values
            ],
        }
        for f in result.facets
    ]


def _link(endpoint: str, params: list[tuple[str, str]]) -> str:
    return url_for(endpoint, **MultiDict(params).to_dict(flat=False))  # type: ignore[arg-type]


def my_state_json(result: SearchResult) -> dict[str, Any] | None:
    """The state the search names (`my_state`), and its requirements (then the federal ones)
    with their counts among these results and a link that selects or unselects each."""
    req = result.request
    if req.my_state is None:
        return None
    ref = reference()
    counts = result.counts("mandate")
    return {
        "code": req.my_state,
        "name": ref.jurisdiction_name(req.my_state),
        "requirements": [
            {
                "id": m.id,
                "label": mandate_label(m.id, ref),
                "name": m.name,
                "summary": m.summary,
                "count": counts.get(m.id, 0),
                "selected": m.id in req.selected("mandate"),
                "toggle": _link("api.search", toggled(req, "mandate", m.id).to_params()),
            }
            for m in ref.mandates_for(req.my_state)
        ],
    }


def near_json(req: SearchRequest) -> dict[str, Any] | None:
    """The place a distance search understood, and its radius."""
    if req.near_place is None or req.radius_km is None:
        return None
    within, unit = req.radius
    return {
        "query": req.near,
        "place": req.near_place.label,
        "lat": req.near_place.point.lat,
        "lon": req.near_place.point.lon,
        "within": within,
        "unit": unit,
        "radius_km": round(req.radius_km, 3),
        "include_online": req.include_online,
        "text": radius_text(req),
    }


def search_json(result: SearchResult, base_url: str, my_board: str | None = None) -> dict[str, Any]:
    req = result.request
    params = req.to_params()
    page_params = [(k, v) for k, v in params if k != "page"]
    origin = Origin.of(req)
    return {
        "total": result.total,
        "page": req.page,
        "per_page": req.per_page,
        "pages": result.pages,
        "sort": req.effective_sort,
        "corrected_text": result.corrected_text,
        "hits": [card(h, base_url, my_board, req.my_state, origin) for h in result.hits],
        "facets": _facets_json(result),
        "my_state": my_state_json(result),
        "near": near_json(req),
        "links": {
            "self": _link("api.search", params),
            "html": _link("search.home", params),
            "next": _link("api.search", [*page_params, ("page", str(req.page + 1))])
            if req.page < result.pages
            else None,
            "prev": _link("api.search", [*page_params, ("page", str(req.page - 1))])
            if req.page > 1
            else None,
        },
    }


def _search() -> SearchResult | Response:
    try:
        return run_search(parse_request(request.args))
    except SearchRequestError as exc:
        return json_error(400, str(exc), problems=exc.problems)
    except SearchUnavailable:
        return json_error(503, "search is unavailable for a moment; please try again shortly")


def _json_bytes(data: Any) -> bytes:
    """What `jsonify` writes (the app's JSON settings), encoded once, as bytes to keep."""
    return f"{current_app.json.dumps(data)}\n".encode()


@bp.get("/search")
def search() -> Any:
    base = request.host_url.rstrip("/")
    try:
        req = parse_request(request.args)
        # Encoded once per cached answer and host: a repeated search is not encoded again.
        body = run_search_rendered(
            req, ("api.search", base), lambda result: _json_bytes(search_json(result, base))
        )
    except SearchRequestError as exc:
        return json_error(400, str(exc), problems=exc.problems)
    except SearchUnavailable:
        return json_error(503, "search is unavailable for a moment; please try again shortly")
    return Response(body, mimetype="application/json")


@bp.get("/facets")
def facets() -> Any:
    result = _search()
    if isinstance(result, Response):
        return result
    return jsonify({"total": result.total, "facets": _facets_json(result)})


@bp.get("/suggest")
def suggest() -> Any:
    text = (request.args.get("q") or "").strip()
    if len(text) > 100:
        return json_error(400, "q: at most 100 characters")
    try:
        limit = int(request.args.get("limit", 8))
    except ValueError:
        return json_error(400, "limit: a whole number from 1 to 20")
    if not 1 <= limit <= 20:
        return json_error(400, "limit: a whole number from 1 to 20")
    if len(text) < 2:
        return jsonify({"suggestions": []})
    try:
        found = search_engine().suggest(text, limit)
    except SearchUnavailable:
        return json_error(503, "suggestions are unavailable for a moment")
    return jsonify({"suggestions": [{"text": s.text, "kind": s.kind} for s in found]})


@bp.get("/activities/<int:activity_id>")
def activity(activity_id: int) -> Any:
    # Read from the registry, not the index: it answers while search is down.
    try:
        state = url_state()
    except SearchRequestError as exc:
        return json_error(400, str(exc), problems=exc.problems)
    try:
        view = listed_activity(activity_id, request.host_url.rstrip("/"), my_state=state)
    except ActivityGone as gone:
        return json_error(410, f"this activity ended on {gone.ended}")
    if view is None:
        return json_error(404, "no listed activity has this id")
    return jsonify(view)


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document())
