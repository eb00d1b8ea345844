"""An activity's public detail page and its calendar file, both read from the registry, so they
work while search is down: 404 if it is not listed, 410 once it has ended."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from sqlalchemy import select

from directory.registry.models import Activity, with_children
from directory.search import SearchRequestError
from directory.web.context import db_session, my_board, my_state, today, url_state
from directory.web.errors import problem_page
from directory.web.presenters.calendar import activity_calendar
from directory.web.presenters.cards import card
from directory.web.presenters.detail import ActivityGone, listed_activity
from directory.web.presenters.jsonld import json_ld
from indexer.document import to_document

bp = Blueprint("activity", __name__)


@bp.get("/activities/<int:activity_id>")
def activity(activity_id: int) -> Any:
    try:
        # A link's state ("counts for Texas") before the one the physician saved.
        state = url_state() or my_state()
    except SearchRequestError as exc:
        return problem_page(400, "This address names no state", "; ".join(exc.problems.values()))
    try:
        view = listed_activity(activity_id, request.host_url.rstrip("/"), my_board(), state)
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
    more = [card(d, "", None, state) for a in others if (d := to_document(a, day)) is not None][:6]
    return render_template("activity.html", a=view, json_ld=json_ld(view), more=more)


@bp.get("/activities/<int:activity_id>.ics")
def activity_ics(activity_id: int) -> Response:
    """An 'add to calendar' file: one all-day event per date of a live activity."""
    try:
        view = listed_activity(activity_id, request.host_url.rstrip("/"))
    except ActivityGone:
        abort(410)
    if view is None or not view["live"]:
        abort(404)
    text = activity_calendar(view, activity_id, request.host)
    response = Response(text, content_type="text/calendar; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="activity-{activity_id}.ics"'
    return response
