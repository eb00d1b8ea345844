"""HTML pages. For now, the home page lists upcoming activities straight from the registry."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from directory import rules
from directory.app import db_session, today
from directory.models import Activity, Provider
from directory.reference import reference

bp = Blueprint("pages", __name__)


@bp.get("/")
def home() -> str:
    day = today()
    ref = reference()
    # SQL narrows to likely candidates; the rules module has the last word on what is listed.
    candidates = db_session().scalars(
        select(Activity)
        .join(Provider)
        .where(
            Activity.status == "Active",
            Activity.show_in_directory.is_(True),
            Activity.end_date >= day,
            Provider.accreditation_status.in_(ref.good_standing),
        )
        .options(selectinload(Activity.moc), selectinload(Activity.provider))
        .order_by(Activity.start_date, Activity.id)
        .limit(60)
    )
    listed = [a for a in candidates if rules.is_listed(a, day, ref)][:25]
    cards = [(a, rules.counted_boards(a, day, ref)) for a in listed]
    return render_template("home.html", cards=cards, today=day)


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
