"""The providers' web service: create, read, update, withdraw and delete their own activities.

Authentication is a per-provider API key (`Authorization: Bearer cme_...`). Every query is
scoped to the key's provider, and another provider's activity answers 404 exactly like a
missing one, so a key cannot even learn which ids exist elsewhere. Writes go through the
same checks and messages as batch files (`provider_data.batch`), and each is recorded with
the key that made it.

The list and the summary are the provider dashboard's (`registry.standing`): the same
filters read from the same query string, the same counts, each summary line linking to the
list it counts, so a script and a person looking at the page never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.datastructures import MultiDict

from directory.provider_data import batch
from directory.provider_data.files import (
    FileRejected,
    Record,
    parse_json_body,
    read_document,
    read_records,
)
from directory.registry import api_keys, rules, standing
from directory.registry.models import Activity, ApiKey, with_children
from directory.registry.reference import reference
from directory.web import jobs
from directory.web.context import db_session, today
from directory.web.errors import json_error as error
from directory.web.presenters.openapi_provider import DEFAULT_PER_PAGE, MAX_PAGE, MAX_PER_PAGE
from directory.web.presenters.standing import query_url, refresh_checks, row_dict, summary_dict
from directory.web.search_service import sync_after_write

bp = Blueprint("provider_api", __name__, url_prefix="/api/v1/provider")


def requires_key(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return error(401, "send your API key as 'Authorization: Bearer <key>'")
        key = api_keys.authenticate(db_session(), presented)
        if key is None:
            return error(401, "this API key is not valid or has been revoked")
        # End this request's read snapshot first: its own writes must see the touch.
        db_session().commit()
        api_keys.touch(current_app.extensions["directory_engine"], key)
        g.api_key = key
        return view(*args, **kwargs)

    return wrapper


def _key() -> ApiKey:
    return g.api_key


def _own(provider_activity_id: str) -> Activity | None:
    return db_session().scalar(
        select(Activity)
        .where(
            Activity.provider_id == _key().provider_id,
            Activity.provider_activity_id == provider_activity_id,
        )
        .options(*with_children())
    )


def _refused() -> Response | None:
    """403 for a provider that may not register or change activities (accreditation not in
    good standing), with the reason; None when it may. Withdrawing stays open: it only takes
    a listing out of the directory, where such a provider's listings are not shown anyway."""
    refusal = rules.registration_refused(_key().provider)
    return error(403, f"{refusal}; nothing was saved") if refusal else None


def _not_found(provider_activity_id: str) -> Response:
    return error(404, f"you have no activity with id '{provider_activity_id}'")


def _json_value(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def describe(row: standing.Row) -> dict[str, Any]:
    """An activity as its provider sees it: its data (its topic tags as codes, its approvals,
    coordinates where it sent them), and how it stands in the directory: the dashboard's own
    row (every reason, each registration's state), the boards it counts for, and the state
    mandates its tags and approvals match."""
    activity = row.activity
    payload = batch.payload_of(activity)
    fee_cents = payload.pop("fee_cents")
    payload["fee"] = None if fee_cents is None else fee_cents / 100
    data = json.loads(json.dumps(payload, default=_json_value))
    return {
        "id": activity.id,
        **data,
        "listing": {
            **row_dict(row),
            # The reasons' sentences again, as the web service gave them before it gave codes.
            "why_not_listed": [r.text for r in row.reasons],
            # Not the registrations counted alone: a board without a registration program
            # (ABPMR) takes a listed activity meant for its specialties.
            "counts_for": rules.boards_if_listed(activity, today()) if row.listed else [],
            "mandates": reference().matched_mandates(
                payload["topics"], [a["body"] for a in payload["approvals"]]
            ),
        },
        "updated_at": activity.updated_at.isoformat() if activity.updated_at else None,
    }


def _row(provider_activity_id: str) -> standing.Row | None:
    return standing.row_of(db_session(), _key().provider, provider_activity_id, today())


def _search_note() -> dict[str, str]:
    """Bring search up to date now if configured to; say when changes will show."""
    return sync_after_write()


def _queue(filename: str, data: bytes, dry_run: bool) -> Response:
    """A large upload becomes a job: 202 now, the report at the job's URL when it is done."""
    job = jobs.submit(
        current_app._get_current_object(),  # type: ignore[attr-defined]
        _key().provider_id,
        _key().id,
        filename,
        data,
        dry_run,
    )
    url = url_for("provider_api.get_job", token=job.token)
    response = jsonify(
        {
            "job": job.as_dict(),
            "message": "the file is being checked and imported; poll the job for its report",
            "links": {"job": url},
        }
    )
    response.status_code = 202
    response.headers["Location"] = url
    response.headers["Retry-After"] = "2"
    return response


@bp.get("/jobs/<token>")
@requires_key
def get_job(token: str) -> Any:
    job = jobs.find(db_session(), _key().provider_id, token)
    if job is None:
        return error(404, f"you have no batch job '{token}'")
    response = jsonify({"job": job.as_dict()})
    if job.status in ("queued", "running"):
        response.headers["Retry-After"] = "2"
    return response


def _write(
    records_bytes: bytes, filename: str, dry_run: bool = False
) -> tuple[batch.BatchReport, Response | None]:
    return _import(lambda: read_records(filename, records_bytes), dry_run=dry_run)


def _import(
    read: Callable[[], Iterable[Record]], dry_run: bool = False
) -> tuple[batch.BatchReport, Response | None]:
    try:
        report = batch.import_records(
            current_app.extensions["directory_sessions"],
            _key().provider_id,
            read,
            today(),
            source="api",
            api_key_id=_key().id,
            dry_run=dry_run,
        )
    except FileRejected as exc:
        return batch.BatchReport(), error(422, str(exc))
    return report, None


def _one_activity_body() -> tuple[dict[str, Any] | None, Response | None]:
    if not request.is_json:
        return None, error(415, "send the activity as JSON (Content-Type: application/json)")
    # Parsed with a JSON file's limits (nesting, size, digits), not request.get_json: a body
    # nested 100,000 deep would exhaust the parser's recursion and answer 500.
    try:
        body = parse_json_body(request.get_data())
    except FileRejected as exc:
        return None, error(400, str(exc))
    if not isinstance(body, dict):
        return None, error(400, "the body must be one JSON object: an activity")
    return body, None


def _number(args: MultiDict[str, str], name: str, default: int, top: int) -> int | str:
    """A page number or size: the number, or what is wrong with it."""
    values = [v.strip() for v in args.getlist(name) if v.strip()]
    if not values:
        return default
    if len(values) > 1:
        return "give it once"
    if not values[0].isdigit() or not 1 <= int(values[0]) <= top:
        return f"a whole number from 1 to {top:,}"
    return int(values[0])


def _query() -> standing.Query:
    """The dashboard's filters and sort (`standing.Query`) from the query string, with the web
    service's own page sizes, which came first: 50 unless asked, up to MAX_PER_PAGE. Raises
    QueryError naming every parameter that cannot be read."""
    args = MultiDict(request.args)
    paging = {
        "page": _number(args, "page", 1, MAX_PAGE),
        "per_page": _number(args, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE),
    }
    for name in paging:
        args.poplist(name)
    problems = {name: value for name, value in paging.items() if isinstance(value, str)}
    try:
        query = standing.Query.from_args(args)
    except standing.QueryError as exc:
        problems = {**exc.problems, **problems}
    if problems:
        raise standing.QueryError(problems)
    return replace(query, page=int(paging["page"]), per_page=int(paging["per_page"]))


def _list_url(params: list[tuple[str, str]]) -> str:
    return url_for("provider_api.list_activities", **MultiDict(params).to_dict(flat=False))  # type: ignore[arg-type]


def _filters(query: standing.Query) -> dict[str, Any]:
    """The filters applied, under their parameters' names: every one, null or [] when not."""
    return {
        "listed": None if query.listed is None else "yes" if query.listed else "no",
        "reason": list(query.reasons),
        "field": query.field,
        "status": list(query.statuses),
        "format": list(query.formats),
        "board": query.board,
        "board_state": query.board_state,
        "board_field": query.board_field,
        "q": query.text or None,
    }


def _check_changes() -> int:
    """The key's provider's checks brought up to date (`refresh_checks`): how many wait."""
    return refresh_checks(db_session(), _key().provider_id)


@bp.get("/activities")
@requires_key
def list_activities() -> Any:
    try:
        query = _query()
    except standing.QueryError as exc:
        return error(400, str(exc), problems=exc.problems)
    _check_changes()
    found = standing.page(db_session(), _key().provider, query, today())
    # The page size always in the links: the dashboard's default (left out of its own
    # parameters) is not this list's.
    params = [(k, v) for k, v in query.to_params() if k != "per_page"]
    params.append(("per_page", str(query.per_page)))
    paged = [(k, v) for k, v in params if k != "page"]
    return jsonify(
        {
            "total": found.total,
            "page": query.page,
            "per_page": query.per_page,
            "pages": found.pages,
            "sort": query.sort,
            "filters": _filters(query),
            "activities": [describe(row) for row in found.rows],
            "links": {
                "self": _list_url(params),
                "next": _list_url([*paged, ("page", str(query.page + 1))])
                if query.page < found.pages and query.page < MAX_PAGE
                else None,
                "prev": _list_url([*paged, ("page", str(query.page - 1))])
                if query.page > 1
                else None,
                "summary": url_for("provider_api.get_summary"),
            },
        }
    )


@bp.get("/summary")
@requires_key
def get_summary() -> Any:
    """How the provider's activities stand, each line with the list URL of what it counts."""
    waiting = _check_changes()
    counted = standing.summary(db_session(), _key().provider, today(), waiting)
    base = url_for("provider_api.list_activities")
    return jsonify(summary_dict(counted, lambda query: query_url(base, query)))


@bp.get("/activities/<provider_activity_id>")
@requires_key
def get_activity(provider_activity_id: str) -> Any:
    row = _row(provider_activity_id)
    if row is None:
        return _not_found(provider_activity_id)
    return jsonify(describe(row))


def _save(body: dict[str, Any], must_exist: bool | None) -> Any:
    if (refused := _refused()) is not None:
        return refused
    pid = str(body.get("provider_activity_id") or "")
    existing = _own(pid) if pid else None
    if must_exist is False and existing is not None:
        return error(409, f"activity '{pid}' exists already; PUT /activities/{pid} to change it")
    # The body is parsed already: read it as the JSON file it would be, without writing it out
    # and parsing it again. The size limit is on the bytes sent.
    size = len(request.get_data())
    report, failure = _import(
        lambda: read_document({"activities": [body]}, size=size, name="activity.json")
    )
    if failure is not None:
        return failure
    if report.refused:
        return error(403, report.errors[0].message)
    if not report.ok:
        return error(
            422,
            "the activity was not saved: "
            + "; ".join(f"{m.field}: {m.message}" for m in report.errors),
            problems=[m.as_dict() for m in report.errors],
            warnings=[m.as_dict() for m in report.warnings],
        )
    db_session().rollback()  # end this request's read snapshot: the write happened elsewhere
    _check_changes()
    row = _row(pid)
    assert row is not None
    status = 201 if report.created else 200
    response = jsonify(
        {
            "activity": describe(row),
            "result": "created" if report.created else "updated" if report.updated else "unchanged",
            "warnings": [m.as_dict() for m in report.warnings],
            "search": _search_note(),
        }
    )
    response.status_code = status
    return response


@bp.post("/activities")
@requires_key
def create_activity() -> Any:
    body, failure = _one_activity_body()
    if failure is not None:
        return failure
    assert body is not None
    return _save(body, must_exist=False)


@bp.put("/activities/<provider_activity_id>")
@requires_key
def put_activity(provider_activity_id: str) -> Any:
    body, failure = _one_activity_body()
    if failure is not None:
        return failure
    assert body is not None
    given = body.get("provider_activity_id")
    if given not in (None, provider_activity_id):
        return error(
            400,
            f"the body's provider_activity_id '{given}' differs from the URL's '{provider_activity_id}'",
        )
    return _save({**body, "provider_activity_id": provider_activity_id}, must_exist=None)


@bp.post("/activities/<provider_activity_id>/withdraw")
@requires_key
def withdraw_activity(provider_activity_id: str) -> Any:
    activity = _own(provider_activity_id)
    if activity is None:
        return _not_found(provider_activity_id)
    if activity.show_in_directory:
        activity.show_in_directory = False
        activity.updated_at = batch.utcnow()
        batch.record_change(db_session(), activity, "withdrawn", source="api", api_key_id=_key().id)
        db_session().commit()
        _check_changes()
    row = _row(provider_activity_id)
    assert row is not None
    return jsonify({"activity": describe(row), "search": _search_note()})


@bp.delete("/activities/<provider_activity_id>")
@requires_key
def delete_activity(provider_activity_id: str) -> Any:
    activity = _own(provider_activity_id)
    if activity is None:
        return _not_found(provider_activity_id)
    if (refused := _refused()) is not None:
        return refused
    problems = rules.deletion_problems(activity)
    if problems:
        return error(409, problems[0].message)
    batch.record_change(db_session(), activity, "deleted", source="api", api_key_id=_key().id)
    db_session().delete(activity)
    db_session().commit()
    return jsonify({"deleted": provider_activity_id, "search": _search_note()})


@bp.post("/batch")
@requires_key
def batch_upload() -> Any:
    if (refused := _refused()) is not None:
        return refused
    dry_run = request.args.get("dry_run", "").lower() in ("1", "true", "yes")
    # A raw body comes with whatever type the client sets (curl --data-binary says
    # application/x-www-form-urlencoded); only a multipart upload is read as a form, since
    # reading any other body as a form would consume it.
    upload = request.files.get("file") if request.mimetype == "multipart/form-data" else None
    if upload is not None:
        filename, data = upload.filename or "", upload.read()
    else:
        filename, data = request.args.get("filename", ""), request.get_data()
    if not data:
        return error(
            400, "send a file: multipart field 'file', or the body with ?filename=activities.csv"
        )
    as_job = request.args.get("job", "").lower() in ("1", "true", "yes")
    if as_job or len(data) > jobs.INLINE_MAX_BYTES:
        return _queue(filename, data, dry_run)
    report, failure = _write(data, filename, dry_run=dry_run)
    if failure is not None:
        return failure
    if report.refused:
        return error(403, report.errors[0].message)
    body: dict[str, Any] = report.as_dict()
    if not report.ok:
        noun = "problem" if report.error_count == 1 else "problems"
        body["message"] = (
            f"{report.error_count} {noun}; nothing was saved. Fix them and upload the file again."
        )
        response = jsonify(body)
        response.status_code = 422
        return response
    if report.written:
        body["search"] = _search_note()
        _check_changes()
    return jsonify(body)
