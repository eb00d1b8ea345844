"""The providers' web service in the OpenAPI document: paths, the bearer key, and schemas.

Kept beside `openapi.py` (the public API) so each stays readable; `openapi.document()` merges
the two. `MAX_PER_PAGE` is declared here and used by the provider API itself, and the list's
filters are documented from the declarations `registry.standing` reads them with (reasons,
board states, sorts, the reference data's statuses, formats and boards), so the document and
the behaviour cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from directory.provider_data.coerce import MAX_APPROVALS
from directory.provider_data.layout import LAYOUT
from directory.registry import rules, standing
from directory.registry.reference import reference

# The most activities one page of the provider API lists (blueprints/provider_api.py uses it),
# and how many when not asked: the web service's own sizes, older than the dashboard's.
MAX_PER_PAGE = 200
DEFAULT_PER_PAGE = 50
# The last page it answers; a larger number is a 400, not an offset the database refuses.
MAX_PAGE = 100_000
ERROR = {"$ref": "#/components/schemas/Error"}
KEY: list[dict[str, list[str]]] = [{"providerKey": []}]
ACTIVITY_ID = {
    "name": "provider_activity_id",
    "in": "path",
    "required": True,
    "description": "Your own id for the activity.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100},
}


def _json(schema: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def _errors(*codes: int) -> dict[str, Any]:
    texts = {
        400: "Bad request; for the list's filters, `problems` maps each parameter to what is wrong",
        401: "No key, or a key that is not valid",
        404: "You have no such activity",
        409: "Conflict",
        413: "Too large",
        415: "Not JSON",
        422: "The activity or file breaks the registry's rules; nothing was saved",
        429: "Too many requests",
        503: "Busy; retry after the Retry-After seconds",
    }
    return {
        str(c): {"description": texts[c], "content": {"application/json": {"schema": ERROR}}}
        for c in codes
    }


def _query(
    name: str, schema: dict[str, Any], description: str, many: bool = False
) -> dict[str, Any]:
    if many:
        schema = {"type": "array", "items": schema, "maxItems": standing.MAX_VALUES}
        return {
            "name": name,
            "in": "query",
            "description": description + " Repeat the parameter for any of several.",
            "schema": schema,
            "style": "form",
            "explode": True,
        }
    return {"name": name, "in": "query", "description": description, "schema": schema}


def _text(examples: list[str]) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": standing.MAX_TEXT, "examples": examples}


def list_parameters(max_per_page: int = MAX_PER_PAGE) -> list[dict[str, Any]]:
    """The list's filters: the dashboard's (`registry.standing.Query`), one query string for
    both. A value that cannot be read answers 400 with `problems` naming each parameter."""
    ref = reference()
    reasons = "; ".join(f"{code}: {label}" for code, label in standing.REASON_LABELS.items())
    states = "; ".join(f"{code}: {label}" for code, label in standing.BOARD_STATES.items())
    sorts = "; ".join(f"{s.name}: {s.label.lower()}" for s in standing.SORTS)
    boards = sorted(ref.boards)
    return [
        _query(
            "listed",
            {"type": "string", "enum": list(standing.LISTED)},
            "Only the activities listed in the public directory today (yes), or those not (no).",
        ),
        _query(
            "reason",
            {"type": "string", "enum": list(rules.REASON_CODES)},
            f"Not listed for this reason ({reasons}).",
            many=True,
        ),
        _query(
            "field",
            _text(["description", "end date", "format"]),
            "Missing or breaking a rule in this field, as a reason names it (the summary's "
            "lines under 'missing required fields' and 'a field breaks a rule').",
        ),
        _query(
            "status",
            {"type": "string", "enum": list(ref.statuses)},
            "With this status.",
            many=True,
        ),
        _query(
            "format",
            {"type": "string", "enum": [f.name for f in ref.formats.values()]},
            "In this format.",
            many=True,
        ),
        _query(
            "board",
            {"type": "string", "minLength": 1, "maxLength": standing.MAX_TEXT, "examples": boards},
            f"Registered for this board (its code: {', '.join(boards)}); with board_state or "
            "board_field, that registration is the one in that state or lacking that item.",
        ),
        _query(
            "board_state",
            {"type": "string", "enum": list(standing.BOARD_STATES)},
            f"With a registration in this state ({states}).",
        ),
        _query(
            "board_field",
            _text(["practice areas", "credit types", "points"]),
            "With a registration lacking this item, as the registration's `missing` names it.",
        ),
        _query(
            "q",
            _text(["sepsis", "LU-2026-001"]),
            "Text in your own titles or activity ids (any case), or the directory's id.",
        ),
        _query(
            "sort",
            {"type": "string", "enum": list(standing.SORT_NAMES)},
            f"The order ({sorts}); changed unless given. Walk every page in id order: it does "
            "not move while activities change.",
        ),
        {
            "name": "page",
            "in": "query",
            "description": "Past the last page, an empty list (with the total), not an error.",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
        },
        {
            "name": "per_page",
            "in": "query",
            "description": f"{DEFAULT_PER_PAGE} unless given.",
            "schema": {"type": "integer", "minimum": 1, "maximum": max_per_page},
        },
    ]


def paths(max_per_page: int = MAX_PER_PAGE) -> dict[str, Any]:
    common = (401, 429, 503)
    body = {"required": True, "content": _json("ProviderActivityInput")}
    written = {
        "200": {"description": "Updated or unchanged", "content": _json("ProviderWrite")},
        "201": {"description": "Created", "content": _json("ProviderWrite")},
    }
    return {
        "/api/v1/provider/activities": {
            "get": {
                "summary": "Your activities, filtered as on your dashboard, each with how it stands",
                "description": "The filters combine (all must hold; a repeated parameter, any "
                "of its values). A parameter that cannot be read answers 400, its `problems` "
                "naming each parameter with what is wrong; other parameters are ignored, and "
                "`filters` echoes what was applied.",
                "operationId": "provider_list",
                "security": KEY,
                "parameters": list_parameters(max_per_page),
                "responses": {
                    "200": {"description": "OK", "content": _json("ProviderActivities")},
                    **_errors(400, *common),
                },
            },
            "post": {
                "summary": "Create one activity",
                "operationId": "provider_create",
                "security": KEY,
                "requestBody": body,
                "responses": {**written, **_errors(400, 409, 415, 422, *common)},
            },
        },
        "/api/v1/provider/activities/{provider_activity_id}": {
            "get": {
                "summary": "One of your activities",
                "operationId": "provider_get",
                "security": KEY,
                "parameters": [ACTIVITY_ID],
                "responses": {
                    "200": {"description": "OK", "content": _json("ProviderActivity")},
                    **_errors(404, *common),
                },
            },
            "put": {
                "summary": "Create or replace one of your activities",
                "operationId": "provider_put",
                "security": KEY,
                "parameters": [ACTIVITY_ID],
                "requestBody": body,
                "responses": {**written, **_errors(400, 415, 422, *common)},
            },
            "delete": {
                "summary": "Delete it (unless learner completions were reported: then withdraw)",
                "operationId": "provider_delete",
                "security": KEY,
                "parameters": [ACTIVITY_ID],
                "responses": {
                    "200": {"description": "Deleted", "content": _json("ProviderDeleted")},
                    **_errors(404, 409, *common),
                },
            },
        },
        "/api/v1/provider/activities/{provider_activity_id}/withdraw": {
            "post": {
                "summary": "Take it out of the public directory",
                "operationId": "provider_withdraw",
                "security": KEY,
                "parameters": [ACTIVITY_ID],
                "responses": {
                    "200": {"description": "Withdrawn", "content": _json("ProviderWithdrawn")},
                    **_errors(404, *common),
                },
            },
        },
        "/api/v1/provider/summary": {
            "get": {
                "summary": "How your activities stand: listed, not listed and why, per board",
                "description": "Each line's `url` lists the activities it counts (this API's "
                "list, with that line's filters): its `total` is the line's `count`.",
                "operationId": "provider_summary",
                "security": KEY,
                "responses": {
                    "200": {"description": "OK", "content": _json("ProviderSummary")},
                    **_errors(*common),
                },
            },
        },
        "/api/v1/provider/batch": {
            "post": {
                "summary": "A file of activities, checked and written as one batch",
                "description": "Small files answer with the report; files over 1 MiB, or with "
                "job=1, answer 202 with a job to poll.",
                "operationId": "provider_batch",
                "security": KEY,
                "parameters": [
                    {"name": "filename", "in": "query", "schema": {"type": "string"}},
                    {"name": "dry_run", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "job", "in": "query", "schema": {"type": "boolean"}},
                ],
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": {"description": "The batch report", "content": _json("BatchReport")},
                    "202": {"description": "Queued as a job", "content": _json("JobAccepted")},
                    **_errors(400, 413, 422, *common),
                },
            },
        },
        "/api/v1/provider/jobs/{token}": {
            "get": {
                "summary": "A batch job: its status and, once done, its report",
                "operationId": "provider_job",
                "security": KEY,
                "parameters": [
                    {"name": "token", "in": "path", "required": True, "schema": {"type": "string"}}
                ],
                "responses": {
                    "200": {"description": "OK", "content": _json("JobStatus")},
                    **_errors(404, *common),
                },
            },
        },
    }


def _place_fields(nullable: bool) -> dict[str, Any]:
    """Latitude and longitude in decimal degrees: sent (optional), or read back (null when
    not sent, the place then located from its city)."""
    kind: Any = ["number", "null"] if nullable else "number"
    return {
        "latitude": {
            "type": kind,
            "minimum": -90,
            "maximum": 90,
            "description": "Decimal degrees, north positive; with longitude, or neither.",
        },
        "longitude": {
            "type": kind,
            "minimum": -180,
            "maximum": 180,
            "description": "Decimal degrees, east positive; with latitude, or neither.",
        },
    }


def _tag_fields() -> dict[str, Any]:
    """Topic tags and approvals, with the limits the readers apply."""
    return {
        "topics": {
            "type": "array",
            "maxItems": LAYOUT.field("topics").max_items,
            "items": {"type": "string"},
            "description": "Mandated-topic tags, as codes or names (any case): stored as "
            "codes; a value that is no tag is saved with a warning and counts toward nothing.",
        },
        "approvals": {
            "type": "array",
            "maxItems": MAX_APPROVALS,
            "description": "Approvals of the course by a body that approves courses for a "
            "state's requirement; never inferred from the tags.",
            "items": {
                "type": "object",
                "required": ["body"],
                "properties": {
                    "body": {
                        "type": "string",
                        "description": "The approving body's code (TX-TMB, ...; any case) "
                        "or full name: stored as the code.",
                    },
                    "id": {"type": ["string", "null"], "description": "The approval's id."},
                },
            },
        },
    }


def _occurrences(nullable: bool) -> dict[str, Any]:
    text: Any = ["string", "null"] if nullable else "string"
    return {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["start_date", "end_date"],
            "properties": {
                "start_date": {"type": "string", "format": "date"},
                "end_date": {"type": "string", "format": "date"},
                "venue": {"type": text},
                "city": {"type": text},
                "state": {"type": text},
                "country": {"type": text},
                **_place_fields(nullable),
            },
        },
    }


def schemas() -> dict[str, Any]:
    listing = {
        "type": "object",
        "description": "How the activity stands today, as your dashboard shows it.",
        "required": [
            "listed",
            "reasons",
            "boards",
            "why_not_listed",
            "counts_for",
            "mandates",
        ],
        "properties": {
            "listed": {"type": "boolean"},
            "reasons": {
                "type": "array",
                "description": "Every reason it is not listed; empty when it is.",
                "items": {
                    "type": "object",
                    "required": ["code", "text"],
                    "properties": {
                        "code": {"type": "string", "enum": list(rules.REASON_CODES)},
                        "text": {"type": "string"},
                    },
                },
            },
            "boards": {
                "type": "array",
                "description": "Each board registration and how it stands.",
                "items": {
                    "type": "object",
                    "required": ["board", "state", "state_label", "summary", "missing"],
                    "properties": {
                        "board": {"type": "string"},
                        "state": {"type": "string", "enum": list(standing.BOARD_STATES)},
                        "state_label": {"type": "string"},
                        "summary": {"type": "string"},
                        "missing": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "What the registration lacks (the board_field "
                            "filter's values).",
                        },
                    },
                },
            },
            "why_not_listed": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The reasons' texts.",
            },
            "counts_for": {
                "type": "array",
                "items": {"type": "string"},
                "description": "The boards a listed activity counts toward today.",
            },
            "mandates": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Ids of the state (and federal) mandates the activity's "
                "topic tags and approvals match, like TX-human-trafficking.",
            },
        },
    }
    nullable_text = {"type": ["string", "null"]}
    many = {"type": "array", "items": {"type": "string"}}
    filters = {
        "type": "object",
        "description": "The filters applied, under their parameters' names.",
        "required": list(standing.FILTER_PARAMS),
        "properties": {
            "listed": {"enum": [*standing.LISTED, None]},
            "reason": many,
            "field": nullable_text,
            "status": many,
            "format": many,
            "board": nullable_text,
            "board_state": {"enum": [*standing.BOARD_STATES, None]},
            "board_field": nullable_text,
            "q": nullable_text,
        },
    }
    count = {"$ref": "#/components/schemas/ProviderCount"}
    message = {
        "type": "object",
        "required": ["field", "message"],
        "properties": {
            "location": {"type": ["string", "null"]},
            "field": {"type": "string"},
            "message": {"type": "string"},
            "text": {"type": "string"},
        },
    }
    report = {
        "type": "object",
        "required": ["written", "created", "updated", "unchanged", "errors", "warnings"],
        "properties": {
            "written": {"type": "boolean"},
            "created": {"type": "integer", "minimum": 0},
            "updated": {"type": "integer", "minimum": 0},
            "unchanged": {"type": "integer", "minimum": 0},
            "errors": {"type": "array", "items": message},
            "warnings": {"type": "array", "items": message},
        },
    }
    job = {
        "type": "object",
        "required": ["id", "status", "filename", "dry_run", "created_at", "report"],
        "properties": {
            "id": {"type": "string"},
            "status": {"type": "string", "enum": ["queued", "running", "done", "failed"]},
            "filename": {"type": "string"},
            "dry_run": {"type": "boolean"},
            "report": {"oneOf": [report, {"type": "null"}]},
            "failure": {"type": ["string", "null"]},
        },
    }
    activity = {
        "type": "object",
        "required": [
            "id",
            "provider_activity_id",
            "topics",
            "approvals",
            "latitude",
            "longitude",
            "occurrences",
            "listing",
        ],
        "properties": {
            "id": {"type": "integer"},
            "provider_activity_id": {"type": "string"},
            **_tag_fields(),
            **_place_fields(nullable=True),
            "occurrences": _occurrences(nullable=True),
            "listing": listing,
        },
    }
    return {
        "ProviderActivityInput": {
            "type": "object",
            "description": "An activity in the published layout's JSON keys (see /provider-data).",
            "properties": {
                "provider_activity_id": {"type": "string"},
                "title": {"type": "string"},
                "format": {"type": "string"},
                "start_date": {"type": "string"},
                "end_date": {"type": "string"},
                "url": {"type": "string"},
                **_tag_fields(),
                **_place_fields(nullable=False),
                "occurrences": _occurrences(nullable=False),
            },
        },
        "ProviderActivity": activity,
        "ProviderActivities": {
            "type": "object",
            "required": [
                "total",
                "page",
                "per_page",
                "pages",
                "sort",
                "filters",
                "activities",
                "links",
            ],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "page": {"type": "integer", "minimum": 1},
                "per_page": {"type": "integer", "minimum": 1},
                "pages": {"type": "integer", "minimum": 1},
                "sort": {"type": "string", "enum": list(standing.SORT_NAMES)},
                "filters": filters,
                "activities": {"type": "array", "items": activity},
                "links": {
                    "type": "object",
                    "required": ["self", "next", "prev", "summary"],
                    "properties": {
                        "self": {"type": "string"},
                        "next": nullable_text,
                        "prev": nullable_text,
                        "summary": {"type": "string"},
                    },
                },
            },
        },
        "ProviderCount": {
            "type": "object",
            "description": "A line of the summary: how many, and the list of them.",
            "required": ["label", "count", "url"],
            "properties": {
                "label": {"type": "string"},
                "count": {"type": "integer", "minimum": 0},
                "url": {
                    "type": "string",
                    "description": "The list of the activities counted (GET, with your key).",
                },
                "parts": {
                    "type": "array",
                    "description": "The lines under this one (a reason's fields, what "
                    "incomplete registrations lack).",
                    "items": count,
                },
            },
        },
        "ProviderSummary": {
            "type": "object",
            "required": [
                "total",
                "listed",
                "not_listed",
                "provider_not_in_good_standing",
                "boards",
                "unchecked",
            ],
            "properties": {
                "total": {"type": "integer", "minimum": 0},
                "unchecked": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Activities changed since they were last checked and not "
                    "checked again yet (many at once, or while a large import is being "
                    "saved): counted as of their last check, or not yet when never checked. "
                    "Usually 0; ask again in a moment.",
                },
                "listed": count,
                "not_listed": {
                    **count,
                    "description": "Its parts: one per reason, an activity under each of its "
                    "reasons (so they may add up to more).",
                },
                "provider_not_in_good_standing": {
                    "type": "boolean",
                    "description": "Then no activity is listed, whatever its own state.",
                },
                "boards": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["board", "name", "registrations", "states"],
                        "properties": {
                            "board": {"type": "string"},
                            "name": {"type": "string"},
                            "registrations": {"type": "integer", "minimum": 0},
                            "states": {
                                "type": "array",
                                "items": {
                                    "allOf": [
                                        count,
                                        {
                                            "type": "object",
                                            "required": ["state"],
                                            "properties": {
                                                "state": {
                                                    "type": "string",
                                                    "enum": list(standing.BOARD_STATES),
                                                }
                                            },
                                        },
                                    ]
                                },
                            },
                        },
                    },
                },
            },
        },
        "ProviderWrite": {
            "type": "object",
            "required": ["activity", "result", "warnings", "search"],
            "properties": {
                "activity": activity,
                "result": {"type": "string", "enum": ["created", "updated", "unchanged"]},
                "warnings": {"type": "array", "items": message},
                "search": {"type": "object"},
            },
        },
        "ProviderWithdrawn": {
            "type": "object",
            "required": ["activity", "search"],
            "properties": {"activity": activity, "search": {"type": "object"}},
        },
        "ProviderDeleted": {
            "type": "object",
            "required": ["deleted", "search"],
            "properties": {"deleted": {"type": "string"}, "search": {"type": "object"}},
        },
        "BatchReport": report,
        "JobStatus": {"type": "object", "required": ["job"], "properties": {"job": job}},
        "JobAccepted": {
            "type": "object",
            "required": ["job", "links"],
            "properties": {"job": job, "links": {"type": "object"}},
        },
    }


SECURITY_SCHEMES = {
    "providerKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A provider's API key (`directory api-key create`): cme_...",
    }
}
