"""HTML pages: search, an activity, a provider, and the provider's own view of its listings.

Every page searches through `search_service.run_search` with a request parsed by
`search.parse_request`, exactly like the JSON API and the widget. The page works as plain GET
forms; `static/search.js` only makes it quicker.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup
from sqlalchemy import select

from directory.registry import api_keys, rules
from directory.registry.models import Activity, Provider, with_children
from directory.registry.reference import reference
from directory.search import (
    FACETS,
    SORTS,
    FacetResult,
    SearchRequest,
    SearchRequestError,
    facet_label,
    parse_request,
)
from directory.web.activity_view import ActivityGone, listed_activity
from directory.web.app import db_session, today
from directory.web.cards import card, fee_text
from directory.web.embed import feed_url
from directory.web.search_service import run_search
from indexer.document import to_document
from indexer.engine import SearchUnavailable

bp = Blueprint("pages", __name__)

VISIBLE_FACET_VALUES = 10
MY_BOARD_COOKIE = "my_board"


def my_board() -> str | None:
    board = request.cookies.get(MY_BOARD_COOKIE)
    return board if board in reference().boards else None


def search_url(req: SearchRequest, endpoint: str = "pages.home") -> str:
    query = urlencode(req.to_params())
    return url_for(endpoint) + (f"?{query}" if query else "")


def _grouped(facet: FacetResult) -> list[tuple[str, list[Any]]]:
    """Practice areas and credit types under their board: [("ABIM", values), ...]."""
    groups: dict[str, list[Any]] = {}
    for v in facet.values:
        board = v.value.split(":", 1)[0]
        groups.setdefault(board, []).append(v)
    return sorted(groups.items(), key=lambda kv: (kv[0] != my_board(), kv[0]))


def _chips(req: SearchRequest) -> list[dict[str, str]]:
    chips = []
    labels = {f.name: f.label for f in FACETS}
    for facet in FACETS:
        for value in req.selected(facet.name):
            label = facet_label(facet.name, value)
            if facet.name == "provider":
                provider = db_session().get(Provider, int(value)) if value.isdigit() else None
                label = provider.name if provider else value
            chips.append(
                {
                    "label": f"{labels[facet.name]}: {label}",
                    "url": search_url(req.without(facet.name, value)),
                }
            )
    if req.text:
        chips.insert(
            0, {"label": f"“{req.text}”", "url": search_url(replace(req, text="", page=1))}
        )
    if req.when != "any":
        label = {
            "upcoming": "Upcoming",
            "this_month": "This month",
            "available_now": "Available now",
        }.get(req.when, f"{req.date_from or '…'} to {req.date_to or '…'}")
        chips.append(
            {
                "label": label,
                "url": search_url(replace(req, when="any", date_from=None, date_to=None, page=1)),
            }
        )
    if req.credits_min is not None or req.credits_max is not None:
        low = f"{req.credits_min:g}" if req.credits_min is not None else "0"
        high = f"{req.credits_max:g}" if req.credits_max is not None else "any"
        chips.append(
            {
                "label": f"Credits {low}–{high}",
                "url": search_url(replace(req, credits_min=None, credits_max=None, page=1)),
            }
        )
    if req.claim_within_days is not None:
        chips.append(
            {
                "label": f"Claim deadline within {req.claim_within_days} days",
                "url": search_url(replace(req, claim_within_days=None, page=1)),
            }
        )
    return chips


def _page_url(req: SearchRequest, page: int) -> str:
    return search_url(replace(req, page=page))


@bp.get("/")
def home() -> Any:
    board = my_board()
    try:
        req = parse_request(request.args)
    except SearchRequestError as exc:
        return render_template(
            "search.html", req=SearchRequest(), result=None, problems=exc.problems, my_board=board
        ), 400
    try:
        result = run_search(req)
    except SearchUnavailable:
        return render_template(
            "search.html", req=req, result=None, unavailable=True, my_board=board
        ), 503
    facets = {f.name: f for f in result.facets}
    return render_template(
        "search.html",
        req=req,
        result=result,
        cards=[card(h, "", board) for h in result.hits],
        facets=facets,
        facet_defs=FACETS,
        grouped={name: _grouped(facets[name]) for name in ("practice_area", "credit_type")},
        chips=_chips(req),
        clear_url=url_for("pages.home"),
        sorts=SORTS,
        page_url=lambda page: _page_url(req, page),
        my_board=board,
        only_my_board_url=search_url(
            replace(req, filters={**req.filters, "board": (board,)}, page=1)
        )
        if board and board not in req.selected("board")
        else None,
        boards=reference().boards,
        visible=VISIBLE_FACET_VALUES,
        feed_url=feed_url(req),
    )


@bp.post("/my-board")
def set_my_board() -> Any:
    board = request.form.get("board", "")
    back = request.form.get("next") or url_for("pages.home")
    if not back.startswith("/") or back.startswith("//"):
        back = url_for("pages.home")  # never redirect off-site
    response = redirect(back, code=303)
    if board in reference().boards:
        response.set_cookie(
            MY_BOARD_COOKIE, board, max_age=365 * 86400, samesite="Lax", httponly=True
        )
    else:
        response.delete_cookie(MY_BOARD_COOKIE)
    return response


def _json_ld(view: dict[str, Any]) -> Markup:
    """schema.org markup for search engines; '<' escaped so no text can close the script."""
    provider = {"@type": "Organization", "name": view["provider"]["name"]}
    offers = {
        "@type": "Offer",
        "price": "0" if view["fee"] == "Free" else view["fee"].lstrip("$").replace(",", ""),
        "priceCurrency": "USD",
        "url": view["register_url"],
    }
    if view["live"]:
        data: dict[str, Any] = {
            "@context": "https://schema.org",
            "@type": "EducationEvent",
            "name": view["title"],
            "description": view["description"],
            "startDate": view["start_date"],
            "endDate": view["end_date"],
            "organizer": provider,
            "offers": offers,
            "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode"
            if view["where"] == "Online"
            else "https://schema.org/OfflineEventAttendanceMode",
            "location": {"@type": "VirtualLocation", "url": view["register_url"]}
            if view["where"] == "Online"
            else {"@type": "Place", "name": view["where"], "address": view["where"]},
        }
    else:
        data = {
            "@context": "https://schema.org",
            "@type": "Course",
            "name": view["title"],
            "description": view["description"],
            "provider": provider,
            "offers": offers,
            "hasCourseInstance": {
                "@type": "CourseInstance",
                "courseMode": "online" if "online" in view["delivery"] else "onsite",
                "startDate": view["start_date"],
                "endDate": view["end_date"],
            },
        }
    text = (
        json.dumps(data, ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return Markup(text)  # noqa: S704 - JSON with <, >, & escaped


@bp.get("/activities/<int:activity_id>")
def activity(activity_id: int) -> Any:
    try:
        view = listed_activity(activity_id, request.host_url.rstrip("/"), my_board())
    except ActivityGone as gone:
        return render_template("gone.html", ended=gone.ended), 410
    if view is None:
        abort(404)
    others = db_session().scalars(
        select(Activity)
        .where(Activity.provider_id == view["provider"]["id"], Activity.id != activity_id)
        .options(*with_children())
        .order_by(Activity.start_date)
        .limit(40)
    )
    day = today()
    more = [card(d) for a in others if (d := to_document(a, day)) is not None][:6]
    return render_template(
        "activity.html", a=view, json_ld=_json_ld(view), more=more, my_board=my_board()
    )


def _ics_text(value: str) -> str:
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


@bp.get("/activities/<int:activity_id>.ics")
def activity_ics(activity_id: int) -> Response:
    """An 'add to calendar' file: one all-day event per date of a live activity."""
    try:
        view = listed_activity(activity_id, request.host_url.rstrip("/"))
    except ActivityGone:
        abort(410)
    if view is None or not view["live"]:
        abort(404)
    sessions = view["occurrences"] or [
        {
            "start_date": view["start_date"],
            "end_date": view["end_date"],
            "place": view["place"] or "Online",
        }
    ]
    stamp = date.today().strftime("%Y%m%dT000000Z")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//CME Directory//EN", "CALSCALE:GREGORIAN"]
    for n, s in enumerate(sessions, 1):
        end = date.fromisoformat(s["end_date"]) + timedelta(days=1)  # DTEND is exclusive
        lines += [
            "BEGIN:VEVENT",
            f"UID:activity-{activity_id}-{n}@{request.host}",
            f"DTSTAMP:{stamp}",
            f"DTSTART;VALUE=DATE:{s['start_date'].replace('-', '')}",
            f"DTEND;VALUE=DATE:{end.strftime('%Y%m%d')}",
            f"SUMMARY:{_ics_text(view['title'])}",
            f"LOCATION:{_ics_text(s.get('place') or 'Online')}",
            f"URL:{view['url']}",
            f"DESCRIPTION:{_ics_text(view['provider']['name'] + ' · ' + str(view['cme_credits']) + ' CME credits · ' + view['url'])}",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    response = Response("\r\n".join(lines) + "\r\n", content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="activity-{activity_id}.ics"'
    return response


@bp.get("/providers/<int:provider_id>")
def provider(provider_id: int) -> Any:
    the_provider = db_session().get(Provider, provider_id)
    if the_provider is None:
        abort(404)
    signed_in = session.get("provider_id") == provider_id
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
    return render_template(
        "provider.html",
        provider=the_provider,
        listed=listed,
        total=total,
        signed_in=signed_in,
        rows=rows,
        my_board=my_board(),
    )


@bp.route("/providers/sign-in", methods=["GET", "POST"])
def provider_sign_in() -> Any:
    error = None
    if request.method == "POST":
        key = api_keys.authenticate(db_session(), request.form.get("key", ""))
        if key is not None:
            db_session().commit()
            session.clear()
            session["provider_id"] = key.provider_id
            return redirect(url_for("pages.provider", provider_id=key.provider_id), code=303)
        error = "That key is not valid or has been revoked. Keys start with cme_."
    return render_template("sign_in.html", error=error, my_board=my_board()), 401 if error else 200


@bp.post("/providers/sign-out")
def provider_sign_out() -> Any:
    session.clear()
    return redirect(url_for("pages.home"), code=303)


@bp.app_template_filter("fee")
def _fee_filter(cents: int | None) -> str:
    return fee_text(cents)


@bp.get("/provider-data/<kind>.<fmt>")
def provider_file(kind: str, fmt: str) -> Response:
    """The published upload templates and example files, one per format."""
    from directory.provider_data import templates

    if kind not in ("template", "example") or fmt not in templates.FORMATS:
        abort(404)
    filename, content_type, data = getattr(templates, kind)(fmt)
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/provider-data")
def provider_data_docs() -> Response:
    """The column, element and key layout, as published in docs/provider-data.md."""
    from directory.provider_data import templates

    return Response(templates.render_docs(), content_type="text/markdown; charset=utf-8")
